"""The flush as a real Celery task on a real worker: the doorbell drains the stream into the database."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from answers.models import AnswerData, AnswerHistory
from answers.selectors import examinee_context_get
from answers.services.flush import answer_queue_ensure, answer_queue_trim
from answers.services.protocol import answer_sync_validate
from answers.services.sync import answer_sync_apply
from answers.tasks import answer_queue_flush_task
from exam_platform.celery import app
from tests.answers.helpers import sync_message

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def celery_worker_thread():
    with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=30) as worker:
        yield worker


def _wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_flush_task_on_a_worker_commits_and_trims(redis_conn, examinee, open_exam, questions, celery_worker_thread):
    """Three versions of one answer end as one ANSWER_DATA row at v3, three history rows, and an empty stream."""
    # given
    answer_queue_ensure(redis_conn)
    q1 = questions[0].pk
    for version, value in ((1, "1"), (2, "2"), (3, "4")):
        message = answer_sync_validate(
            sync_message(examinee=examinee, test_code=open_exam.test_code_id, changes={q1: (value, version)})
        )
        answer_sync_apply(context=examinee_context_get(examinee_id=examinee.pk), message=message, now=timezone.now())
    # when
    answer_queue_flush_task.delay()
    # then
    assert _wait_for(lambda: AnswerHistory.objects.count() == 3)
    assert _wait_for(lambda: redis_conn.xlen("stream:answers:normal") == 0)
    row = AnswerData.objects.get()
    assert (row.version, row.answer_value) == (3, "4")
    assert redis_conn.ttl(f"exam:{examinee.plan_id}:test:{open_exam.test_code_id}:user:{examinee.pk}") > 0
    assert answer_queue_trim(redis_conn) == 0
