"""Writes of proctoring: socket sessions (SOCKET_SESSION, 2.11) and, later, violations and media.

A person may hold several sockets (two tabs, a reconnect before the old close was seen): the
connection status of EXAMINEE_PROGRESS / SUPERVISOR_PROGRESS follows the socket sessions, so
the person is connected while any of their sessions is, and a server that died without closing
its sockets is cleaned up by `socket_sessions_expire` from the last heartbeat.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from monitoring.messages import CodedError
from plans.services.lifecycle import (
    ExamineeConnection,
    examinee_connect,
    examinees_connect,
    examinees_disconnect,
    supervisor_connect,
    supervisor_disconnect,
)

from .choices import SocketStatusCode, UserType
from .models import SocketSession

logger = logging.getLogger(__name__)

# A session without a heartbeat for this long is considered gone (heartbeats come every 20-30 s).
SESSION_STALE_SECONDS = 90


@dataclass(frozen=True)
class ClientInfo:
    """What the server knows of the client at connect time."""

    ip: str = ""
    os: str = ""
    browser: str = ""
    screen: str = ""


def _browser(info: ClientInfo) -> str:
    return f"{info.browser} / {info.os}".strip(" /")


def _connect(user_type: str, user_id: str, info: ClientInfo, now: datetime) -> None:
    if user_type == UserType.EXAMINEE:
        examinee_connect(examinee_id=user_id, ip_addr=info.ip, browser_info=_browser(info), now=now)
    elif user_type == UserType.SUPERVISOR:
        supervisor_connect(supervisor_id=user_id, ip_addr=info.ip, browser_info=_browser(info), now=now)


def _session_new(
    *, user_type: str, user_id: str, plan_id: str, group_id: str, info: ClientInfo, now: datetime
) -> SocketSession:
    return SocketSession(
        socket_id=uuid.uuid4().hex,
        plan_id=plan_id,
        group_id=group_id,
        user_type=user_type,
        user_id=user_id,
        conn_time=now,
        last_heartbeat=now,
        client_ip=info.ip[:50],
        os_info=info.os[:200],
        browser_info=info.browser[:200],
        screen_info=info.screen[:100],
        session_status=SocketStatusCode.CONNECTED,
    )


@transaction.atomic
def socket_session_open(
    *, user_type: str, user_id: str, plan_id: str, group_id: str, info: ClientInfo, now: datetime | None = None
) -> SocketSession:
    """Record a new socket and mark its person connected (which begins an examinee's running exam)."""
    now = now or timezone.now()
    session = _session_new(user_type=user_type, user_id=user_id, plan_id=plan_id, group_id=group_id, info=info, now=now)
    session.save(force_insert=True)
    _connect(user_type, user_id, info, now)
    return session


@dataclass(frozen=True)
class ExamineeSocket:
    """An examinee's new socket, for examinee_sockets_record."""

    examinee_id: str
    plan_id: str
    group_id: str
    info: ClientInfo


@transaction.atomic
def examinee_sockets_record(
    *, sockets: Sequence[ExamineeSocket], now: datetime | None = None
) -> list[SocketSession | CodedError]:
    """socket_session_open for several examinees' sockets in one transaction and a fixed number of
    statements (the connects of one moment in an ASGI process, answers.connects): the examinees
    connected together (plans.services.lifecycle.examinees_connect), then one INSERT of the rows.
    Returns, in order, each socket's row, or the CodedError that refused its examinee (no row)."""
    now = now or timezone.now()
    connected = examinees_connect(
        connections=[
            ExamineeConnection(
                examinee_id=socket.examinee_id, ip_addr=socket.info.ip, browser_info=_browser(socket.info)
            )
            for socket in sockets
        ],
        now=now,
    )
    results: list[SocketSession | CodedError] = []
    for socket in sockets:
        refusal = connected[socket.examinee_id]
        if isinstance(refusal, CodedError):
            results.append(refusal)
            continue
        results.append(
            _session_new(
                user_type=UserType.EXAMINEE,
                user_id=socket.examinee_id,
                plan_id=socket.plan_id,
                group_id=socket.group_id,
                info=socket.info,
                now=now,
            )
        )
    SocketSession.objects.bulk_create([row for row in results if isinstance(row, SocketSession)])
    return results


def socket_session_close(*, socket_id: str, now: datetime | None = None) -> None:
    """Mark a socket closed; the person is disconnected when it was their last open socket."""
    socket_sessions_close(socket_ids=[socket_id], now=now)


@transaction.atomic
def socket_sessions_close(*, socket_ids: Sequence[str], now: datetime | None = None) -> int:
    """socket_session_close for several sockets in one transaction (the sockets of one moment in an
    ASGI process, answers.connects): the open rows locked and closed with one UPDATE, and the
    examinees whose last socket it was disconnected together
    (plans.services.lifecycle.examinees_disconnect). Returns how many sockets were still open.

    Whether an examinee still has another open socket is read once their progress rows are locked
    (examinees_disconnect's `still_connected`).
    """
    now = now or timezone.now()
    closing = list(
        SocketSession.objects.select_for_update()
        .filter(pk__in=sorted(set(socket_ids)), session_status=SocketStatusCode.CONNECTED)
        .order_by("pk")
        .values_list("socket_id", "user_type", "user_id")
    )
    if not closing:
        return 0
    SocketSession.objects.filter(pk__in=[socket_id for socket_id, _type, _user in closing]).update(
        session_status=SocketStatusCode.DISCONNECTED
    )
    people = sorted({(user_type, user_id) for _socket, user_type, user_id in closing})
    examinee_ids = [user_id for user_type, user_id in people if user_type == UserType.EXAMINEE]
    if examinee_ids:
        examinees_disconnect(
            examinee_ids=examinee_ids, now=now, still_connected=lambda ids: _open_sessions(UserType.EXAMINEE, ids)
        )
    supervisor_ids = [user_id for user_type, user_id in people if user_type == UserType.SUPERVISOR]
    for supervisor_id in sorted(set(supervisor_ids) - _open_sessions(UserType.SUPERVISOR, supervisor_ids)):
        supervisor_disconnect(supervisor_id=supervisor_id, now=now)
    return len(closing)


def _open_sessions(user_type: str, user_ids: list[str]) -> set[str]:
    """Which of these people still have an open socket."""
    if not user_ids:
        return set()
    return set(
        SocketSession.objects.filter(
            user_type=user_type, user_id__in=user_ids, session_status=SocketStatusCode.CONNECTED
        ).values_list("user_id", flat=True)
    )


def socket_sessions_heartbeat(*, socket_ids: list[str], now: datetime | None = None) -> int:
    """Record the heartbeats of many sockets at once (one UPDATE per 1,000 ids): an ASGI process
    collects its sockets' heartbeats and writes them together (proctoring.heartbeats), so
    10,000 examinees cost a few statements every HEARTBEAT_WRITE_SECONDS instead of hundreds per
    second. Only open sessions move; returns how many rows changed."""
    now = now or timezone.now()
    changed = 0
    for start in range(0, len(socket_ids), 1000):
        changed += SocketSession.objects.filter(
            pk__in=socket_ids[start : start + 1000], session_status=SocketStatusCode.CONNECTED
        ).update(last_heartbeat=now)
    return changed


def socket_sessions_expire(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Close sessions whose server died without closing them (no heartbeat for SESSION_STALE_SECONDS).

    Returns how many were closed; each is logged, so an operator sees what was removed.
    """
    now = now or timezone.now()
    stale = list(
        SocketSession.objects.filter(
            session_status=SocketStatusCode.CONNECTED, last_heartbeat__lt=now - timedelta(seconds=SESSION_STALE_SECONDS)
        ).values_list("socket_id", "user_type", "user_id")[:batch_size]
    )
    for socket_id, user_type, user_id in stale:
        logger.info("closing stale socket session %s of %s %s", socket_id, user_type, user_id)
    socket_sessions_close(socket_ids=[socket_id for socket_id, _type, _user in stale], now=now)
    return len(stale)
