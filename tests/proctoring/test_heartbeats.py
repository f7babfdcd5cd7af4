"""Socket heartbeats: marked in memory by the socket, written to SOCKET_SESSION together."""

from datetime import timedelta

import pytest
from django.utils import timezone

from proctoring.choices import SocketStatusCode, UserType
from proctoring.heartbeats import HeartbeatBatch
from proctoring.models import SocketSession
from proctoring.services import ClientInfo, socket_session_close, socket_session_open, socket_sessions_heartbeat


def _open(examinee, now):
    return socket_session_open(
        user_type=UserType.EXAMINEE,
        user_id=examinee.pk,
        plan_id=examinee.plan_id,
        group_id=examinee.group_id,
        info=ClientInfo(ip="10.0.0.1"),
        now=now,
    )


@pytest.mark.django_db
def test_many_heartbeats_move_only_open_sessions(examinee):
    """One call writes every open socket's heartbeat; a closed socket keeps its last one."""
    # given
    earlier = timezone.now() - timedelta(minutes=5)
    open_socket, closed_socket = _open(examinee, earlier), _open(examinee, earlier)
    socket_session_close(socket_id=closed_socket.pk, now=earlier)
    now = timezone.now()
    # when
    changed = socket_sessions_heartbeat(socket_ids=[open_socket.pk, closed_socket.pk, "unknown"], now=now)
    # then
    rows = {row.pk: row for row in SocketSession.objects.all()}
    assert changed == 1
    assert rows[open_socket.pk].last_heartbeat == now
    assert rows[closed_socket.pk].last_heartbeat == earlier
    assert rows[closed_socket.pk].session_status == SocketStatusCode.DISCONNECTED


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_batch_writes_marked_sockets_once_and_forgets_closed_ones(examinee):
    """Marked sockets are written by one write(); a forgotten socket is not; the batch is then empty."""
    # given
    from channels.db import database_sync_to_async

    earlier = timezone.now() - timedelta(minutes=5)
    first = await database_sync_to_async(_open)(examinee, earlier)
    second = await database_sync_to_async(_open)(examinee, earlier)
    batch = HeartbeatBatch()
    # when
    batch.mark(first.pk)
    batch.mark(second.pk)
    batch.forget(second.pk)
    written = await batch.write()
    again = await batch.write()
    # then
    beats = {row["pk"]: row["last_heartbeat"] async for row in SocketSession.objects.values("pk", "last_heartbeat")}
    assert (written, again) == (1, 0)
    assert beats[first.pk] > earlier
    assert beats[second.pk] == earlier
    batch.task.cancel()
