"""The stage timer on real Celery workers: AUTO_MOVE 'Y' moves connected and disconnected examinees at
the deadline, also when the worker was restarted in between or was down at the deadline, and the
beat schedule of `setup_periodic_tasks` drives it from a real `celery beat` process."""

import sys
import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from exam_platform.celery import app
from monitoring.messages import CodedError, Msg
from plans.choices import ExamStatus, TransitionAction
from plans.models import ExamineeProgress, GroupProgress, StatusTransition
from plans.services.clock import examinee_clock_get, examinee_write_window_check
from plans.services.lifecycle import examinee_connect, examinee_disconnect, plan_start
from plans.services.roster import PersonRow, examinees_bulk_create
from plans.tasks import group_progress_reconcile_task, stage_deadlines_enforce_task
from tests.plans import factories

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TICK_SECONDS = 0.2


def worker_thread():
    return start_worker(app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=30)


def tick_until(predicate, timeout: float) -> bool:
    """Ring the deadline task every TICK_SECONDS, as beat does, until `predicate()` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        stage_deadlines_enforce_task.delay()
        time.sleep(TICK_SECONDS)
    return predicate()


def make_exam(*, first_stage_seconds: int):
    """A started plan with a short first stage (AUTO_MOVE 'Y') and a 600 s second stage; three examinees:
    connected, disconnected after connecting, and absent."""
    plan = factories.TestPlanFactory()
    first = factories.TestStageFactory(plan=plan, stage_order=1, time_limit=first_stage_seconds)
    second = factories.TestStageFactory(plan=plan, stage_order=2, time_limit=600)
    group = factories.TestGroupFactory(plan=plan)
    examinees = examinees_bulk_create(
        rows=[PersonRow(person_id=f"T{plan.pk}-{i}", group_id=group.pk, name=f"수험자{i}") for i in range(3)]
    )
    started_at = timezone.now()
    plan_start(plan=plan, actor="operator1", now=started_at)
    examinee_connect(examinee_id=examinees[0].pk)
    examinee_connect(examinee_id=examinees[1].pk)
    examinee_disconnect(examinee_id=examinees[1].pk)
    deadline = started_at + timedelta(seconds=first_stage_seconds)
    return {
        "plan": plan,
        "first": first,
        "second": second,
        "group": group,
        "examinees": examinees,
        "deadline": deadline,
    }


def all_moved(exam) -> bool:
    return ExamineeProgress.objects.filter(
        pk__in=[e.pk for e in exam["examinees"]], current_stage=exam["second"]
    ).count() == len(exam["examinees"])


def assert_moved_on_schedule(exam):
    rows = ExamineeProgress.objects.filter(pk__in=[e.pk for e in exam["examinees"]]).order_by("pk")
    assert [(r.current_stage_id, r.stage_started_at, r.exam_status_code, r.conn_status_code) for r in rows] == [
        (exam["second"].pk, exam["deadline"], ExamStatus.IN_PROGRESS, "CONNECTED"),
        (exam["second"].pk, exam["deadline"], ExamStatus.IN_PROGRESS, "DISCONNECTED"),
        (exam["second"].pk, exam["deadline"], ExamStatus.WAITING, "DISCONNECTED"),
    ]
    assert {r.stage_deadline for r in rows} == {exam["deadline"] + timedelta(seconds=600)}


def move_lag_seconds(exam) -> float:
    """How long after the deadline the sweep that moved them ran (the audit's time is the sweep's `now`)."""
    moves = StatusTransition.objects.filter(
        action=TransitionAction.STAGE_MOVE, subject_id__in=[e.pk for e in exam["examinees"]]
    )
    assert moves.count() == 3
    return max((move.occurred_at - exam["deadline"]).total_seconds() for move in moves)


def test_auto_move_on_a_worker_restarted_before_the_deadline(redis_conn):
    """The worker is stopped and a new one started before the deadline; everybody moves within a second of it."""
    # given
    exam = make_exam(first_stage_seconds=4)
    with worker_thread():
        assert not tick_until(lambda: all_moved(exam), timeout=1.0)
    # when
    with worker_thread():
        moved = tick_until(lambda: all_moved(exam), timeout=15.0)
    # then
    assert moved
    assert_moved_on_schedule(exam)
    lag = move_lag_seconds(exam)
    assert 0 <= lag < 1.0, lag
    connected = exam["examinees"][0]
    with pytest.raises(CodedError) as error:
        examinee_write_window_check(connected.pk, exam["first"].pk)
    assert error.value.message is Msg.EXAM_STAGE_CLOSED
    assert examinee_write_window_check(connected.pk, exam["second"].pk) is None


def test_auto_move_after_the_worker_was_down_at_the_deadline_keeps_the_schedule(redis_conn):
    """No worker runs at the deadline: writes are refused from the deadline on, and the first worker that
    comes back moves everybody into a stage that started at the deadline, not later."""
    # given
    exam = make_exam(first_stage_seconds=2)
    connected = exam["examinees"][0]
    while timezone.now() < exam["deadline"] + timedelta(seconds=1.5):
        stage_deadlines_enforce_task.delay()
        time.sleep(TICK_SECONDS)
    with pytest.raises(CodedError) as error:
        examinee_write_window_check(connected.pk, exam["first"].pk)
    assert error.value.message is Msg.EXAM_STAGE_CLOSED
    assert not all_moved(exam)
    # when
    with worker_thread():
        moved = tick_until(lambda: all_moved(exam), timeout=15.0)
    # then
    assert moved
    assert_moved_on_schedule(exam)
    clock = examinee_clock_get(connected.pk)
    assert clock.stage_id == exam["second"].pk
    assert clock.remaining_ms == (exam["deadline"] + timedelta(seconds=600) - clock.server_now) // timedelta(
        milliseconds=1
    )


def test_reconciliation_task_on_a_worker_fixes_drift(redis_conn):
    """The periodic reconciliation, run by a worker, rebuilds drifted counters from the rows."""
    # given
    exam = make_exam(first_stage_seconds=600)
    GroupProgress.objects.filter(pk=exam["group"].pk).update(connected_examinee_cnt=3, submitted_examinee_cnt=2)
    # when
    with worker_thread():
        group_progress_reconcile_task.delay()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and GroupProgress.objects.get(pk=exam["group"].pk).submitted_examinee_cnt:
            time.sleep(0.1)
    # then
    progress = GroupProgress.objects.get(pk=exam["group"].pk)
    assert (progress.assigned_examinee_cnt, progress.connected_examinee_cnt, progress.submitted_examinee_cnt) == (
        3,
        1,
        0,
    )


def test_real_beat_and_a_killed_worker_move_everybody_at_the_deadline(redis_conn, tmp_path):
    """`setup_periodic_tasks` + a real `celery beat` + a worker process that is SIGKILLed and replaced before
    the deadline: connected and disconnected examinees move at the deadline (beat rings every second)."""
    from tests.faults.harness import ManagedProcess, celery_worker, process_env

    # given
    call_command("setup_periodic_tasks", stdout=open(tmp_path / "setup.log", "w"))
    PeriodicTask.objects.exclude(task="plans.tasks.stage_deadlines_enforce_task").update(enabled=False)
    env = process_env(
        redis_url=settings.REDIS_URL,
        CELERY_BROKER_URL=settings.REDIS_URL,
        CHANNEL_LAYER_REDIS_URL=settings.REDIS_URL,
    )
    first_worker = celery_worker("lifecycle-a", env, tmp_path)
    beat = ManagedProcess(
        [sys.executable, "-m", "celery", "-A", "exam_platform", "beat", "-l", "info",
         "-S", "django_celery_beat.schedulers:DatabaseScheduler", "--max-interval", "1"],
        env,
        tmp_path / "beat.log",
    )  # fmt: skip
    second_worker = None
    try:
        assert beat.wait_for_log("beat: Starting", 60), beat.log_path.read_text()
        exam = make_exam(first_stage_seconds=20)
        first_worker.kill()
        second_worker = celery_worker("lifecycle-b", env, tmp_path)
        assert timezone.now() < exam["deadline"], "the replacement worker started too slowly for this test"
        # when
        limit = time.monotonic() + (exam["deadline"] - timezone.now()).total_seconds() + 20
        while time.monotonic() < limit and not all_moved(exam):
            time.sleep(0.1)
        # then
        assert all_moved(exam), second_worker.log_path.read_text()[-3000:]
        assert_moved_on_schedule(exam)
        lag = move_lag_seconds(exam)
        assert 0 <= lag < 2.0, lag
    finally:
        beat.stop()
        first_worker.stop()
        if second_worker is not None:
            second_worker.stop()
