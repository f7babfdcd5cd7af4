"""`manage.py setup_periodic_tasks`: every beat schedule comes from this one idempotent command."""

from io import StringIO

from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask


def schedules():
    return sorted(
        (
            task.name,
            task.task,
            task.enabled,
            task.expire_seconds,
            (task.interval.every, task.interval.period) if task.interval else None,
            str(task.crontab.minute) + " " + str(task.crontab.hour) if task.crontab else None,
        )
        for task in PeriodicTask.objects.select_related("interval", "crontab")
    )


EXPECTED = [
    ("answers: queue flush", "answers.tasks.answer_queue_flush_task", True, 10, (1, IntervalSchedule.SECONDS), None),
    ("exam: group progress reconciliation", "plans.tasks.group_progress_reconcile_task", True, 120, None, "* *"),
    ("exam: stage deadlines", "plans.tasks.stage_deadlines_enforce_task", True, 5, (1, IntervalSchedule.SECONDS), None),
    (
        "monitoring: page log flush",
        "monitoring.tasks.client_logs_flush_task",
        True,
        30,
        (10, IntervalSchedule.SECONDS),
        None,
    ),
    (
        "proctoring: stale socket sessions",
        "proctoring.tasks.socket_sessions_expire_task",
        True,
        60,
        (30, IntervalSchedule.SECONDS),
        None,
    ),
]


def test_setup_periodic_tasks_creates_every_schedule_once(db):
    """Two runs leave exactly one row per schedule, with the task, interval or cron, and expiry."""
    # given
    call_command("setup_periodic_tasks", stdout=StringIO())
    # when
    call_command("setup_periodic_tasks", stdout=StringIO())
    # then
    assert schedules() == EXPECTED


def test_setup_periodic_tasks_restores_a_disabled_schedule_and_prunes_strangers(db):
    """A schedule an operator disabled is enabled again; with --prune an unknown one is disabled."""
    # given
    call_command("setup_periodic_tasks", stdout=StringIO())
    PeriodicTask.objects.filter(name="exam: stage deadlines").update(enabled=False)
    stranger = PeriodicTask.objects.create(
        name="old job", task="plans.tasks.gone_task", interval=IntervalSchedule.objects.first()
    )
    # when
    call_command("setup_periodic_tasks", "--prune", stdout=StringIO())
    # then
    assert PeriodicTask.objects.get(name="exam: stage deadlines").enabled is True
    stranger.refresh_from_db()
    assert stranger.enabled is False
