"""Faults on the flush path with real processes: nothing acknowledged is lost, nothing is stored twice."""

import time

import pytest
from django.utils import timezone

from answers.keys import ANSWER_STREAM_NORMAL, FLUSH_GROUP
from answers.models import AnswerData, AnswerHistory
from answers.selectors import examinee_context_get
from answers.services.flush import answer_queue_ensure
from answers.services.protocol import answer_sync_validate
from answers.services.sync import answer_sync_apply
from exam_platform.redis import redis_client
from tests.answers.helpers import sync_message
from tests.faults.harness import TcpProxy, celery_call, celery_worker, database_address, database_url, process_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FLUSH_TASK = "answers.tasks.answer_queue_flush_task"


def _sync(examinee, stage, changes):
    message = answer_sync_validate(sync_message(examinee=examinee, test_code=stage.test_code_id, changes=changes))
    result = answer_sync_apply(
        context=examinee_context_get(examinee_id=examinee.pk), message=message, now=timezone.now()
    )
    assert result.accepted == {q: v for q, (_value, v) in changes.items()}
    return result


def _pending() -> int:
    return int(redis_client().xpending(ANSWER_STREAM_NORMAL, FLUSH_GROUP)["pending"])


def _drain(env, expect_rows, timeout=60.0):
    """Ring the flush until the stream has nothing pending and the history holds `expect_rows` rows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        celery_call(FLUSH_TASK, env)
        time.sleep(1.0)
        if _pending() == 0 and AnswerHistory.objects.count() >= expect_rows:
            return True
    return False


def test_worker_killed_after_commit_before_xack_loses_and_duplicates_nothing(
    private_redis, tmp_path, examinee, open_exam, questions
):
    """SIGKILL between the database commit and XACK: the entries are claimed again and re-applied idempotently."""
    # given: five acknowledged versions of two questions, and a worker that stops after its commit
    answer_queue_ensure()
    q1, q2 = questions[0].pk, questions[1].pk
    for version in (1, 2, 3):
        _sync(examinee, open_exam, {q1: (str(version), version)})
    for version in (1, 2):
        _sync(examinee, open_exam, {q2: (str(version + 1), version)})
    env = process_env(redis_url=private_redis.url)
    doomed = celery_worker("doomed", {**env, "EXAM_FAULTPOINT": "after_db_commit_before_xack"}, tmp_path)
    # when
    celery_call(FLUSH_TASK, env)
    assert doomed.wait_for_log("FAULTPOINT after_db_commit_before_xack reached", 60), doomed.log_path.read_text()
    committed_before_kill = AnswerHistory.objects.count()
    pending_before_kill = _pending()
    doomed.kill()
    survivor = celery_worker("survivor", env, tmp_path)
    try:
        drained = _drain(env, expect_rows=5)
    finally:
        survivor.stop()
    # then
    assert (committed_before_kill, pending_before_kill) == (5, 5)
    assert drained
    assert sorted(AnswerHistory.objects.values_list("question_id", "version")) == sorted(
        [(q1, 1), (q1, 2), (q1, 3), (q2, 1), (q2, 2)]
    )
    assert {row.question_id: (row.version, row.answer_value) for row in AnswerData.objects.all()} == {
        q1: (3, "3"),
        q2: (2, "3"),
    }


def test_database_outage_keeps_acknowledging_and_drains_when_it_returns(
    private_redis, tmp_path, examinee, open_exam, questions
):
    """With the database cut away from the worker, saves are still acknowledged; none is flushed, none is lost."""
    # given: a worker whose only way to the database is a proxy
    answer_queue_ensure()
    q1 = questions[0].pk
    proxy = TcpProxy(*database_address())
    env = process_env(redis_url=private_redis.url, db_url=database_url(proxy_port=proxy.port))
    worker = celery_worker("cutoff", env, tmp_path)
    try:
        _sync(examinee, open_exam, {q1: ("1", 1)})
        assert _drain(env, expect_rows=1)
        # when: the database becomes unreachable for the worker
        proxy.cut()
        for version in (2, 3, 4):
            _sync(examinee, open_exam, {q1: (str(version), version)})
        celery_call(FLUSH_TASK, env)
        assert worker.wait_for_log("answer flush postponed", 60), worker.log_path.read_text()
        rows_during_outage = AnswerHistory.objects.count()
        pending_during_outage = _pending()
        proxy.restore()
        drained = _drain(env, expect_rows=4)
    finally:
        worker.stop()
        proxy.close()
    # then
    assert (rows_during_outage, pending_during_outage) == (1, 3)
    assert drained
    assert sorted(AnswerHistory.objects.values_list("version", flat=True)) == [1, 2, 3, 4]
    assert AnswerData.objects.get().version == 4
