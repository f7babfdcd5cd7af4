"""`manage.py seed_demo`: a started demo exam with people and a credentials CSV (plans.services.demo)."""

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from monitoring.messages import CodedError
from plans.models import TestPlan
from plans.services.demo import (
    DEMO_PLAN_ID,
    ROLE_EXAMINEE,
    ROLE_OPERATOR,
    ROLE_SUPERVISOR,
    demo_seed,
)


def default_output() -> Path:
    """var/demo-credentials.csv, under EXAM_VAR_DIR where settings.local sets VAR_DIR from it."""
    var_dir = getattr(settings, "VAR_DIR", None) or settings.BASE_DIR / "var"
    return Path(var_dir) / "demo-credentials.csv"


class Command(BaseCommand):
    help = _("Create a started demo exam plan with groups, supervisors, examinees and a credentials CSV.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--groups", type=int, default=3, help=_("Number of groups (one supervisor each)."))
        parser.add_argument("--examinees", type=int, default=30, help=_("Total examinees, spread over the groups."))
        parser.add_argument("--questions", type=int, default=10, help=_("Questions per stage paper."))
        parser.add_argument("--stages", type=int, default=2, help=_("Number of stages (1교시 국어, 2교시 수학, ...)."))
        parser.add_argument("--plan-id", default=DEMO_PLAN_ID, help=_("ID of the demo plan."))
        parser.add_argument("--output", type=Path, default=None, help=_("Credentials CSV path."))
        existing = parser.add_mutually_exclusive_group()
        existing.add_argument(
            "--if-empty",
            action="store_true",
            help=_("Do nothing (but say where the credentials are) when the plan already exists."),
        )
        existing.add_argument("--force", action="store_true", help=_("Delete the demo plan first, then create it."))

    def handle(self, *args, **options) -> None:
        plan_id: str = options["plan_id"]
        output: Path = options["output"] or default_output()
        existing = TestPlan.objects.filter(pk=plan_id).first() if options["if_empty"] else None
        if existing is not None:
            self.stdout.write(_("seed_demo: plan %(plan)s already exists; nothing created.") % {"plan": plan_id})
            if existing.end_datetime <= timezone.now():
                self.stdout.write(
                    self.style.WARNING(
                        _("Plan %(plan)s ended at %(end)s; run seed_demo --force for a demo that is open now.")
                        % {
                            "plan": plan_id,
                            "end": timezone.localtime(existing.end_datetime).isoformat(timespec="minutes"),
                        }
                    )
                )
            if output.exists():
                self.stdout.write(_("Credentials: %(path)s") % {"path": output})
            else:
                self.stdout.write(
                    self.style.WARNING(
                        _("Credentials file %(path)s is missing; run seed_demo --force to create new ones.")
                        % {"path": output}
                    )
                )
            return
        started = time.perf_counter()
        try:
            result = demo_seed(
                plan_id=plan_id,
                groups=options["groups"],
                examinees=options["examinees"],
                questions=options["questions"],
                stages=options["stages"],
                output=output,
                replace=options["force"],
            )
        except CodedError as error:
            message = error.message
            raise CommandError(f"{message.code} {message.ko} / {message.en} ({error.detail})") from error
        elapsed = time.perf_counter() - started
        if result.replaced:
            self.stdout.write(_("seed_demo: deleted the existing plan %(plan)s first.") % {"plan": plan_id})
        roles = {ROLE_EXAMINEE: 0, ROLE_SUPERVISOR: 0, ROLE_OPERATOR: 0}
        for row in result.credentials:
            roles[row.role] += 1
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "seed_demo: plan %(plan)s started with %(stages)d stages (%(questions)d questions), "
                    "%(groups)d groups, %(supervisors)d supervisors, %(examinees)d examinees in %(seconds).1f s."
                )
                % {
                    "plan": result.plan.pk,
                    "stages": result.stage_count,
                    "questions": result.question_count,
                    "groups": result.group_count,
                    "supervisors": result.supervisor_count,
                    "examinees": result.examinee_count,
                    "seconds": elapsed,
                }
            )
        )
        self.stdout.write(
            _("Credentials: %(path)s (%(examinees)d examinees, %(supervisors)d supervisors, %(operators)d operator)")
            % {
                "path": result.output,
                "examinees": roles[ROLE_EXAMINEE],
                "supervisors": roles[ROLE_SUPERVISOR],
                "operators": roles[ROLE_OPERATOR],
            }
        )
