"""Operator work on answers: replaying the reprocess queue, restoring a sheet, poison entries."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from answers.models import AnswerData, AnswerDeadLetter, AnswerHistory
from answers.selectors import examinee_context_get
from answers.services.flush import answer_queue_ensure, answer_queue_flush
from answers.services.operations import answer_dead_letters_replay, answer_sheet_restore
from answers.services.protocol import answer_sync_validate
from answers.services.sync import answer_sync_apply
from monitoring.messages import CodedError, Msg
from tests.answers.helpers import sync_message

pytestmark = pytest.mark.django_db(transaction=True)


def _apply(examinee, stage, changes):
    message = answer_sync_validate(sync_message(examinee=examinee, test_code=stage.test_code_id, changes=changes))
    return answer_sync_apply(context=examinee_context_get(examinee_id=examinee.pk), message=message, now=timezone.now())


def test_restore_brings_back_the_sheet_as_new_versions(redis_conn, examinee, open_exam, questions):
    """Restoring to a time writes the old values as the next versions and clears later answers."""
    # given: q1 was "1" at the restore point; then q1 became "3" and q2 was answered
    answer_queue_ensure(redis_conn)
    q1, q2 = questions[0].pk, questions[1].pk
    _apply(examinee, open_exam, {q1: ("1", 1)})
    answer_queue_flush(consumer="test")
    restore_point = timezone.now()
    AnswerHistory.objects.update(timestamp=restore_point - timedelta(seconds=1))
    _apply(examinee, open_exam, {q1: ("3", 2), q2: ("4", 1)})
    answer_queue_flush(consumer="test")
    AnswerHistory.objects.filter(version__gt=1).update(timestamp=restore_point + timedelta(seconds=1))
    AnswerHistory.objects.filter(question_id=q2).update(timestamp=restore_point + timedelta(seconds=1))
    # when
    result = answer_sheet_restore(examinee_id=examinee.pk, at=restore_point, actor="admin:test")
    answer_queue_flush(consumer="test")
    # then
    assert result.changes == {q1: ("3", "1", 3), q2: ("4", "", 2)}
    assert {row.question_id: (row.answer_value, row.version) for row in AnswerData.objects.all()} == {
        q1: ("1", 3),
        q2: ("", 2),
    }
    assert AnswerHistory.objects.count() == 5


def test_a_poison_entry_moves_to_the_reprocess_queue_and_replays(redis_conn, settings, examinee, open_exam, questions):
    """An entry the database refuses is retried, then dead-lettered without blocking others; replay stores it."""
    # given: an entry naming a question the database does not know, next to a good one
    settings.ANSWER_FLUSH_CLAIM_IDLE_MS = 0
    settings.ANSWER_FLUSH_MAX_DELIVERIES = 2
    answer_queue_ensure(redis_conn)
    q1 = questions[0].pk
    _apply(examinee, open_exam, {q1: ("1", 1)})
    from answers.keys import ANSWER_STREAM_NORMAL

    header = redis_conn.xrange(ANSWER_STREAM_NORMAL)[0][1][b"m"]
    redis_conn.xadd(ANSWER_STREAM_NORMAL, {"m": header, "q:GHOST": '{"value": "1", "version": 1, "updated": "x"}'})
    # when: three flushes (first delivery, one retry, then the move)
    for _ in range(3):
        answer_queue_flush(consumer="test")
    letter = AnswerDeadLetter.objects.get()
    # then
    assert AnswerData.objects.get().question_id == q1
    assert (letter.examinee_id, list(letter.payload["answers"])) == (examinee.pk, ["GHOST"])
    assert redis_conn.xpending(ANSWER_STREAM_NORMAL, "flushers")["pending"] == 0
    assert redis_conn.xlen("stream:answers:dead") == 1
    # and a replay puts it back (it fails again here: the cause is not fixed, so it returns)
    assert answer_dead_letters_replay(dead_letter_ids=[letter.pk], actor="admin:test") == 1
    assert answer_dead_letters_replay(dead_letter_ids=[letter.pk], actor="admin:test") == 0
    assert redis_conn.xlen("stream:answers:high") == 1


def test_an_entry_the_database_refuses_at_once_keeps_its_batch_flowing(
    redis_conn, settings, examinee, another_examinee, open_exam, questions
):
    """A value the table cannot hold fails its statement, not the commit: the batch is retried entry
    by entry, the good entries are stored at the first flush, and the bad one is dead-lettered."""
    # given: a good entry of each examinee and, between them, one whose value is longer than the column
    settings.ANSWER_FLUSH_CLAIM_IDLE_MS = 0
    settings.ANSWER_FLUSH_MAX_DELIVERIES = 2
    answer_queue_ensure(redis_conn)
    q1, q2 = questions[0].pk, questions[1].pk
    _apply(examinee, open_exam, {q1: ("1", 1)})
    from answers.keys import ANSWER_STREAM_NORMAL

    header = redis_conn.xrange(ANSWER_STREAM_NORMAL)[0][1][b"m"]
    too_long = json.dumps({"value": "가" * 1001, "version": 1, "updated": "2026-11-25T10:00:00+09:00"})
    redis_conn.xadd(ANSWER_STREAM_NORMAL, {"m": header, f"q:{q2}": too_long})
    _apply(another_examinee, open_exam, {q1: ("2", 1)})
    # when: the first flush
    first = answer_queue_flush(consumer="test")
    # then: both good entries are in, the bad one waits for its next delivery
    assert first.committed == 2
    assert sorted(AnswerData.objects.values_list("examinee_id", "question_id", "answer_value")) == sorted(
        [(examinee.pk, q1, "1"), (another_examinee.pk, q1, "2")]
    )
    # and the next flushes move it to the reprocess queue, with nothing of it stored
    for _ in range(2):
        answer_queue_flush(consumer="test")
    letter = AnswerDeadLetter.objects.get()
    assert (letter.examinee_id, list(letter.payload["answers"])) == (examinee.pk, [q2])
    assert "value too long" in letter.error
    assert AnswerHistory.objects.filter(question_id=q2).count() == 0
    assert redis_conn.xpending(ANSWER_STREAM_NORMAL, "flushers")["pending"] == 0


def test_restore_of_a_submitted_sheet_is_refused(redis_conn, examinee, open_exam, questions):
    """Once submitted, the sheet is final: EXM-003."""
    from answers.services.submit import answer_sheet_submit

    answer_sheet_submit(context=examinee_context_get(examinee_id=examinee.pk), now=timezone.now())
    with pytest.raises(CodedError) as refused:
        answer_sheet_restore(examinee_id=examinee.pk, at=timezone.now(), actor="admin:test")
    assert refused.value.code == Msg.EXAM_ALREADY_SUBMITTED.code
