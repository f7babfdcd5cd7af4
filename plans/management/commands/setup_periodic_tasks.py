"""Create or update every beat schedule of the platform (django-celery-beat), in one place.

Run after each deploy (`manage.py setup_periodic_tasks`); it is idempotent. Periodic tasks that
are not in SCHEDULES are left as they are, unless `--prune` is given, which disables them. Every
app's schedule belongs in SCHEDULES (STYLE 43), with a crontab.guru link for each cron.
"""

from dataclasses import dataclass

from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks


@dataclass(frozen=True)
class Schedule:
    name: str
    task: str
    every_seconds: int | None = None
    crontab: str | None = None  # "minute hour day_of_month month_of_year day_of_week"
    expire_seconds: int | None = None
    description: str = ""


SCHEDULES = [
    Schedule(
        name="exam: stage deadlines",
        task="plans.tasks.stage_deadlines_enforce_task",
        every_seconds=1,
        expire_seconds=5,
        description="Auto-move at AUTO_MOVE 'Y' stage deadlines and submit after the last stage.",
    ),
    Schedule(
        name="exam: group progress reconciliation",
        task="plans.tasks.group_progress_reconcile_task",
        # https://crontab.guru/#*_*_*_*_* (every minute)
        crontab="* * * * *",
        expire_seconds=120,
        description="Recount GROUP_PROGRESS counters of groups not completed.",
    ),
    Schedule(
        name="answers: queue flush",
        task="answers.tasks.answer_queue_flush_task",
        every_seconds=1,
        expire_seconds=10,
        description="Drain the answer streams into ANSWER_DATA / ANSWER_HISTORY.",
    ),
    Schedule(
        name="proctoring: stale socket sessions",
        task="proctoring.tasks.socket_sessions_expire_task",
        every_seconds=30,
        expire_seconds=60,
        description="Close SOCKET_SESSION rows whose server died without closing them (no heartbeat for 90 s).",
    ),
    Schedule(
        name="monitoring: page log flush",
        task="monitoring.tasks.client_logs_flush_task",
        every_seconds=10,
        expire_seconds=30,
        description="Write the log stream's entries to the log storage as JSON-lines files.",
    ),
]


def _crontab(expression: str) -> CrontabSchedule:
    minute, hour, day_of_month, month_of_year, day_of_week = expression.split()
    schedule, _created = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
        timezone="Asia/Seoul",
    )
    return schedule


class Command(BaseCommand):
    help = "Create or update all periodic (beat) tasks."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--prune", action="store_true", help="Disable periodic tasks this command does not define.")

    @transaction.atomic
    def handle(self, *args, prune: bool = False, **options) -> None:
        for spec in SCHEDULES:
            defaults = {
                "task": spec.task,
                "enabled": True,
                "expire_seconds": spec.expire_seconds,
                "description": spec.description,
                "interval": None,
                "crontab": None,
            }
            if spec.every_seconds is not None:
                defaults["interval"], _ = IntervalSchedule.objects.get_or_create(
                    every=spec.every_seconds, period=IntervalSchedule.SECONDS
                )
            else:
                defaults["crontab"] = _crontab(spec.crontab)
            _task, created = PeriodicTask.objects.update_or_create(name=spec.name, defaults=defaults)
            self.stdout.write(f"{'created' if created else 'updated'}: {spec.name} -> {spec.task}")
        if prune:
            names = [spec.name for spec in SCHEDULES]
            disabled = PeriodicTask.objects.exclude(name__in=names).exclude(name="celery.backend_cleanup")
            count = disabled.update(enabled=False)
            # A queryset update sends no signal: tell the beat scheduler that its schedule changed.
            PeriodicTasks.update_changed()
            self.stdout.write(f"disabled {count} other periodic task(s)")
