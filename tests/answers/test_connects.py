"""Exam sockets' connects recorded together (answers.connects): the same outcome per socket as one
by one, a fixed number of statements whatever their number, refusals kept to their own socket."""

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from answers.connects import ConnectBatch, Ready, exam_sockets_ready
from monitoring.messages import CodedError, Msg
from plans.choices import ConnectionStatus, ExamStatus
from plans.models import ExamineeProgress, GroupProgress
from plans.services.access import examinee_access_codes_issue, examinee_token_issue
from proctoring.models import SocketSession
from proctoring.services import ClientInfo
from tests.answers.helpers import ORIGIN


def _tokens(examinees) -> list[str]:
    examinee_access_codes_issue(examinee_ids=[examinee.pk for examinee in examinees])
    for examinee in examinees:
        examinee.refresh_from_db()
    return [examinee_token_issue(examinee=examinee) for examinee in examinees]


@pytest.mark.django_db(transaction=True)
def test_sockets_recorded_together_each_get_their_own_answer_in_a_fixed_number_of_statements(
    examinee, make_examinees, open_exam
):
    # given: eight examinees added after the start (open_exam began the fixture's), a forged token
    # and an examinee whose progress row is gone; the fixture's examinee connected once already
    # (its paper is in memory since)
    examinees = make_examinees(9, prefix="BT")
    tokens = _tokens(examinees)
    ExamineeProgress.objects.filter(pk=examinees[8].pk).delete()
    info = ClientInfo(ip="10.0.0.7", browser="Chrome 131", os="Windows 11")
    (warm,) = exam_sockets_ready([(_tokens([examinee])[0], info)])
    assert isinstance(warm, Ready)
    # when
    with CaptureQueriesContext(connection) as two:
        first = exam_sockets_ready([(token, info) for token in tokens[:2]])
    with CaptureQueriesContext(connection) as many:
        rest = exam_sockets_ready([(token, info) for token in tokens[2:]] + [("forged", info)])
    # then: everybody ready with their own context, in order; the forged and the deleted refused alone
    ready = [*first, *rest[:6]]
    assert [item.examinee.pk for item in ready] == [examinee.pk for examinee in examinees[:8]]
    assert all(isinstance(item, Ready) and item.context.examinee_id == item.examinee.pk for item in ready)
    assert {item.context.exam_status for item in ready} == {ExamStatus.IN_PROGRESS}
    assert (rest[6].message, rest[7].message) == (Msg.EXAM_NOT_FOUND, Msg.AUTH_TOKEN_INVALID)
    assert SocketSession.objects.filter(session_status="CONNECTED").count() == 9
    assert set(SocketSession.objects.values_list("client_ip", flat=True)) == {"10.0.0.7"}
    progress = ExamineeProgress.objects.filter(pk__in=[examinee.pk for examinee in examinees[:8]])
    assert set(progress.values_list("conn_status_code", flat=True)) == {ConnectionStatus.CONNECTED}
    assert GroupProgress.objects.get(pk=examinees[0].group_id).connected_examinee_cnt == 9
    assert len(many.captured_queries) == len(two.captured_queries)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_herd_of_sockets_connects_through_the_batch(make_examinees, open_exam, redis_conn):
    """Twenty sockets connecting at once on the real ASGI application all get their own sheet."""
    from exam_platform.asgi import application

    # given
    examinees = await database_sync_to_async(make_examinees)(20, prefix="HB")
    tokens = await database_sync_to_async(_tokens)(examinees)
    sockets = [WebsocketCommunicator(application, f"/ws/exam/?token={token}", headers=ORIGIN) for token in tokens]
    # when
    await asyncio.gather(*(socket.connect() for socket in sockets))
    for socket in sockets:
        await socket.send_json_to({"type": "recover"})
    replies = [await socket.receive_json_from(timeout=10) for socket in sockets]
    # then
    assert [(reply["type"], reply["userId"]) for reply in replies] == [
        ("recover.result", examinee.pk) for examinee in examinees
    ]
    for socket in sockets:
        await socket.disconnect()


def _ready(token: str) -> Ready:
    return Ready(examinee=token, socket=None, context=None)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_the_batch_takes_the_waiting_together_and_keeps_failures_to_their_batch():
    """While a batch is being recorded the next connects wait and go together; an error of a batch
    fails its sockets only, and a refusal only its own socket."""
    # given: a recorder that takes 50 ms, refuses "bad" and fails any batch holding "boom"
    sizes = []

    def record(sockets):
        sizes.append(len(sockets))
        time.sleep(0.05)
        if any(token == "boom" for token, _info in sockets):
            raise OperationalError("the database is down")
        return [CodedError(Msg.AUTH_TOKEN_INVALID) if token == "bad" else _ready(token) for token, _info in sockets]

    batch = ConnectBatch(record=record, running=1)
    info = ClientInfo()
    # when: one alone, then nine while it is recorded; later two that wait together and fail together
    first = asyncio.ensure_future(batch.ready("a0", info))
    await asyncio.sleep(0.01)
    herd = [asyncio.ensure_future(batch.ready(token, info)) for token in [f"h{i}" for i in range(8)] + ["bad"]]
    results = await asyncio.gather(first, *herd, return_exceptions=True)
    busy = asyncio.ensure_future(batch.ready("busy", info))
    await asyncio.sleep(0.01)
    failing = await asyncio.gather(batch.ready("boom", info), batch.ready("z", info), return_exceptions=True)
    after = await batch.ready("fine", info)
    # then
    assert sizes == [1, 9, 1, 2, 1]
    assert (await busy).examinee == "busy"
    assert [result.examinee for result in results[:9]] == ["a0"] + [f"h{i}" for i in range(8)]
    assert isinstance(results[9], CodedError) and results[9].message is Msg.AUTH_TOKEN_INVALID
    assert [type(result) for result in failing] == [OperationalError, OperationalError]
    assert after.examinee == "fine"
