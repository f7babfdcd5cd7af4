"""The exam state machines of plans, groups and examinees (issue 4, "Exam lifecycle and timing").

The transition tables live in plans.choices; every status change goes through one
`<thing>_transition_check()` here, so views, consumers, admin actions and tasks share one rule.
"""

from django.db import transaction

from monitoring.messages import CodedError, Msg

from ..choices import PROGRESS_TRANSITIONS, ProgressStatus
from ..models import GroupProgress, TestPlan, TestProgress


def progress_transition_check(*, current: str, target: str, subject: str) -> None:
    """Refuse a plan or group status change that PROGRESS_TRANSITIONS does not allow."""
    if target not in PROGRESS_TRANSITIONS.get(current, frozenset()):
        raise CodedError(Msg.EXAM_ILLEGAL_TRANSITION, detail=f"{subject}: {current} -> {target}")


@transaction.atomic
def plan_start(*, plan: TestPlan, actor: str) -> TestProgress:
    """Start a plan: TEST_PROGRESS and every READY group of it move READY -> IN_PROGRESS."""
    progress = TestProgress.objects.select_for_update().get(pk=plan.pk)
    progress_transition_check(current=progress.status_code, target=ProgressStatus.IN_PROGRESS, subject=plan.pk)
    progress.status_code = ProgressStatus.IN_PROGRESS
    progress.save(update_fields=["status_code"])
    GroupProgress.objects.filter(plan_id=plan.pk, status_code=ProgressStatus.READY).update(
        status_code=ProgressStatus.IN_PROGRESS
    )
    return progress
