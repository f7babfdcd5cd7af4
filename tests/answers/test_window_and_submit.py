"""The write window on the answer path (closed stage, pause, submitted sheet) and the final submit."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from answers.models import Answer, AnswerData
from answers.selectors import examinee_context_get
from answers.services.flush import answer_queue_ensure, answer_queue_flush
from answers.services.protocol import answer_sync_validate
from answers.services.submit import answer_sheet_submit
from answers.services.sync import answer_sync_apply
from exam_platform.asgi import application
from monitoring.messages import CodedError, Msg
from plans.choices import ConnectionStatus, ExamStatus
from plans.models import ExamineeProgress, GroupProgress
from plans.services.access import examinee_access_codes_issue, examinee_token_issue
from plans.services.lifecycle import examinee_connect, examinee_force_submit, group_pause
from proctoring.models import SocketSession
from tests.answers.helpers import stored_answer_state, sync_message

pytestmark = pytest.mark.django_db(transaction=True)


def _apply(examinee, stage, changes, now=None):
    message = answer_sync_validate(sync_message(examinee=examinee, test_code=stage.test_code_id, changes=changes))
    context = examinee_context_get(examinee_id=examinee.pk)
    return answer_sync_apply(context=context, message=message, now=now or timezone.now())


def test_a_write_after_the_stage_deadline_is_refused(redis_conn, examinee, open_exam, questions):
    """At the deadline the stage is closed: EXM-002, nothing stored."""
    # given
    deadline = ExamineeProgress.objects.get(pk=examinee.pk).stage_deadline
    # when
    with pytest.raises(CodedError) as refused:
        _apply(examinee, open_exam, {questions[0].pk: ("1", 1)}, now=deadline + timedelta(milliseconds=1))
    # then
    assert refused.value.code == Msg.EXAM_STAGE_CLOSED.code
    assert stored_answer_state(redis_conn) == {}


def test_a_write_to_a_paused_group_is_refused(redis_conn, examinee, group, open_exam, questions):
    """While the group is paused every write gets EXM-004."""
    # given
    group_pause(group=group, actor="operator:test")
    # when
    with pytest.raises(CodedError) as refused:
        _apply(examinee, open_exam, {questions[0].pk: ("1", 1)})
    # then
    assert refused.value.code == Msg.EXAM_PAUSED.code
    assert stored_answer_state(redis_conn) == {}


def test_submit_writes_unflushed_answers_and_closes_the_sheet(redis_conn, examinee, open_exam, questions):
    """Answers only in Redis are in ANSWER after the submit; later writes get EXM-003; the late flush agrees."""
    # given: one answer flushed, one only acknowledged
    answer_queue_ensure(redis_conn)
    q1, q2 = questions[0].pk, questions[1].pk
    _apply(examinee, open_exam, {q1: ("1", 1)})
    answer_queue_flush(consumer="test")
    _apply(examinee, open_exam, {q2: ("3", 1)})
    # when
    result = answer_sheet_submit(context=examinee_context_get(examinee_id=examinee.pk), now=timezone.now())
    with pytest.raises(CodedError) as refused:
        _apply(examinee, open_exam, {q1: ("2", 2)})
    answer_queue_flush(consumer="test")
    # then
    assert (result["status"], result["answered"]) == ("SUBMITTED", 2)
    assert dict(Answer.objects.values_list("question_id", "answer_content")) == {q1: "1", q2: "3"}
    assert refused.value.code == Msg.EXAM_ALREADY_SUBMITTED.code
    assert dict(AnswerData.objects.values_list("question_id", "version")) == {q1: 1, q2: 1}
    assert ExamineeProgress.objects.get(pk=examinee.pk).exam_status_code == ExamStatus.SUBMITTED


def test_a_save_flushed_after_a_force_submit_joins_the_final_sheet(
    redis_conn, examinee, make_examinees, open_exam, questions
):
    """A force submit writes ANSWER from ANSWER_DATA; a save still in the queue then reaches ANSWER with the
    flush, and an examinee of the same batch who has not submitted gets no ANSWER row."""
    # given: both saved one answer that only Redis holds; the first is force-submitted
    answer_queue_ensure(redis_conn)
    submitted, working = examinee, make_examinees(1, prefix="WK")[0]
    q1 = questions[0].pk
    for examinee in (submitted, working):
        examinee_connect(examinee_id=examinee.pk)
        _apply(examinee, open_exam, {q1: ("4", 1)})
    submitted_at = timezone.now()
    examinee_force_submit(examinee_id=submitted.pk, actor="sup1", reason="test", now=submitted_at)
    before = list(Answer.objects.values_list("examinee_id", "question_id", "answer_content"))
    # when
    answer_queue_flush(consumer="test")
    # then
    assert before == []
    assert list(Answer.objects.values_list("examinee_id", "question_id", "answer_content")) == [(submitted.pk, q1, "4")]
    # With no earlier ANSWER row to take the submit time from, the force submit's transition gives it.
    assert Answer.objects.get().submit_datetime == submitted_at
    assert AnswerData.objects.filter(question_id=q1).count() == 2


@pytest.mark.asyncio
async def test_socket_connects_counts_and_hears_the_pause(redis_conn, examinee, group, open_exam):
    """A socket marks the examinee connected (counted once), hears a pause at once, and disconnects."""
    # given
    await database_sync_to_async(examinee_access_codes_issue)(examinee_ids=[examinee.pk])
    await database_sync_to_async(examinee.refresh_from_db)()
    token = examinee_token_issue(examinee=examinee)
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost"), (b"user-agent", b"Chromium/156")]
    communicator = WebsocketCommunicator(application, f"/ws/exam/?token={token}", headers=headers)
    connected, _ = await communicator.connect()
    assert connected

    def counts():
        progress = ExamineeProgress.objects.get(pk=examinee.pk)
        return (
            progress.conn_status_code,
            GroupProgress.objects.get(pk=group.pk).connected_examinee_cnt,
            SocketSession.objects.filter(user_id=examinee.pk, session_status="CONNECTED").count(),
        )

    await communicator.send_json_to({"type": "heartbeat"})
    assert (await communicator.receive_json_from(timeout=5))["type"] == "heartbeat.ack"
    while_connected = await database_sync_to_async(counts)()
    # when
    await database_sync_to_async(group_pause)(group=group, actor="operator:test")
    pushed = await communicator.receive_json_from(timeout=5)
    await communicator.disconnect()
    after = await database_sync_to_async(counts)()
    # then
    assert while_connected == (ConnectionStatus.CONNECTED, 1, 1)
    assert (pushed["type"], pushed["paused"], pushed["code"]) == ("exam.state", True, Msg.EXAM_PAUSED.code)
    assert after == (ConnectionStatus.DISCONNECTED, 0, 0)
