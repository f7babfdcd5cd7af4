"""Opening a socket: one transaction that records the SOCKET_SESSION row and connects the person,
with the group's row found and locked in one statement and no savepoint inside (fewer round trips
while the group's row is locked, which every connect of a group waits for); a refusal leaves no row."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from monitoring.messages import CodedError, Msg
from plans.choices import ConnectionStatus
from plans.models import ExamineeProgress, GroupProgress
from proctoring.choices import UserType
from proctoring.models import SocketSession
from proctoring.services import ClientInfo, socket_session_close, socket_session_open


def _open(examinee, user_id=None):
    return socket_session_open(
        user_type=UserType.EXAMINEE,
        user_id=user_id or examinee.pk,
        plan_id=examinee.plan_id,
        group_id=examinee.group_id,
        info=ClientInfo(ip="10.0.0.1"),
        now=timezone.now(),
    )


def _shape(sql: str) -> str:
    """A statement's verb and first table: 'SELECT GROUP_PROGRESS'."""
    table = re.search(r'"([A-Z_]+)"', sql)
    return f"{sql.split()[0]} {table.group(1)}" if table else sql.split()[0]


def _count(examinee) -> int:
    return GroupProgress.objects.get(pk=examinee.group_id).connected_examinee_cnt


@pytest.mark.django_db(transaction=True)
def test_a_socket_connects_with_two_row_locks_and_no_savepoint(examinee):
    # given
    before = _count(examinee)

    # when
    with CaptureQueriesContext(connection) as opened:
        socket = _open(examinee)
    with CaptureQueriesContext(connection) as closed:
        socket_session_close(socket_id=socket.pk)

    # then
    for captured in (opened, closed):
        statements = [query["sql"] for query in captured.captured_queries]
        assert not [sql for sql in statements if "SAVEPOINT" in sql.upper()]
        locks = [sql for sql in statements if "FOR UPDATE" in sql.upper() and "SOCKET_SESSION" not in sql]
        assert len(locks) == 2
        assert '"GROUP_PROGRESS"' in locks[0] and '"EXAMINEE_PROGRESS"' in locks[0]  # found by a subquery
        assert locks[1].startswith('SELECT "EXAMINEE_PROGRESS"')
    assert [_shape(query["sql"]) for query in opened.captured_queries] == [
        "BEGIN",
        "INSERT SOCKET_SESSION",
        "SELECT GROUP_PROGRESS",  # the group's row lock: every connect of the group waits here, until COMMIT
        "SELECT EXAMINEE_PROGRESS",
        "UPDATE GROUP_PROGRESS",
        "UPDATE EXAMINEE_PROGRESS",
        "INSERT STATUS_TRANSITION",
        "COMMIT",
    ]
    assert _count(examinee) == before  # connected, then disconnected again
    assert ExamineeProgress.objects.get(pk=examinee.pk).conn_status_code == ConnectionStatus.DISCONNECTED


@pytest.mark.django_db(transaction=True)
def test_a_refused_connect_leaves_no_socket_row(examinee):
    # given: a person with no EXAMINEE_PROGRESS row
    ExamineeProgress.objects.filter(pk=examinee.pk).delete()

    # when
    with pytest.raises(CodedError) as refused:
        _open(examinee)

    # then
    assert refused.value.message is Msg.EXAM_NOT_FOUND
    assert not SocketSession.objects.exists()
