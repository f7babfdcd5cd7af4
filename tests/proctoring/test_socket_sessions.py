"""Opening a socket: one transaction that records the SOCKET_SESSION row and connects the person,
with the group's row found and locked in one statement and no savepoint inside (fewer round trips
while the group's row is locked, which every connect of a group waits for); a refusal leaves no row."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from monitoring.messages import CodedError, Msg
from plans.choices import ConnectionStatus, TransitionAction
from plans.models import ExamineeProgress, GroupProgress, StatusTransition
from proctoring.choices import SocketStatusCode, UserType
from proctoring.models import SocketSession
from proctoring.services import ClientInfo, socket_session_close, socket_session_open, socket_sessions_close
from tests.plans import factories


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


@pytest.mark.django_db(transaction=True)
def test_sockets_closed_together_disconnect_only_whose_last_socket_it_was(make_examinees, plan):
    """Several sockets closed in one call: an examinee whose every socket closed is disconnected once
    (one DISCONNECT row, the group's counter down by one per examinee, two groups each by their own
    number); one with a second socket still open stays connected; a socket closed already or unknown
    changes nothing; the statements are the same for five sockets as for one."""
    # given: A and B in the fixture group, C in another; A has two sockets, of which one stays open
    a, b = make_examinees(2, prefix="CL")
    (c,) = make_examinees(1, target_group=factories.TestGroupFactory(plan=plan), prefix="OT")
    a_first, a_second, b_only, c_only = _open(a), _open(a), _open(b), _open(c)
    done = _open(b)
    socket_session_close(socket_id=done.pk)
    counts = {examinee.pk: _count(examinee) for examinee in (a, c)}
    # when
    with CaptureQueriesContext(connection) as one:
        socket_sessions_close(socket_ids=[c_only.pk])
    with CaptureQueriesContext(connection) as together:
        closed = socket_sessions_close(socket_ids=[a_first.pk, b_only.pk, done.pk, "NOSUCH", b_only.pk])
    # then
    assert closed == 2
    statuses = dict(ExamineeProgress.objects.filter(pk__in=[a.pk, b.pk, c.pk]).values_list("pk", "conn_status_code"))
    assert statuses == {
        a.pk: ConnectionStatus.CONNECTED,
        b.pk: ConnectionStatus.DISCONNECTED,
        c.pk: ConnectionStatus.DISCONNECTED,
    }
    assert (_count(a), _count(c)) == (counts[a.pk] - 1, counts[c.pk] - 1)  # B out of A's group, C out of its own
    assert SocketSession.objects.get(pk=a_second.pk).session_status == SocketStatusCode.CONNECTED
    # B's first close left B connected (b_only was open); B is disconnected once, by this call
    assert StatusTransition.objects.filter(subject_id=b.pk, action=TransitionAction.DISCONNECT).count() == 1
    assert StatusTransition.objects.filter(subject_id=a.pk, action=TransitionAction.DISCONNECT).count() == 0
    assert [_shape(q["sql"]) for q in together.captured_queries] == [_shape(q["sql"]) for q in one.captured_queries]
