"""Row locks of the lifecycle, in one place so every service takes them in the same order.

Lock order (deadlocks need two orders): TEST_PROGRESS, then GROUP_PROGRESS rows by primary key,
then EXAMINEE_PROGRESS / SUPERVISOR_PROGRESS rows by primary key. A service that changes an
examinee therefore locks the examinee's group row first, even though the group counter update
would lock it anyway later: the deadline sweep locks group before examinees, and a connect that
took them the other way round could deadlock with it.
"""

from collections.abc import Iterable

from django.db.models import QuerySet, Subquery

from monitoring.messages import CodedError, Msg

from .models import ExamineeProgress, GroupProgress, SupervisorProgress, TestProgress


def plan_progress_lock(*, plan_id: str) -> TestProgress:
    """Lock and return the TEST_PROGRESS row of a plan; EXAM_NOT_FOUND when there is none."""
    progress = TestProgress.objects.select_for_update().filter(pk=plan_id).first()
    if progress is None:
        raise CodedError(Msg.EXAM_NOT_FOUND, detail=f"plan {plan_id}")
    return progress


def group_progress_lock(*, group_ids: Iterable[str]) -> list[GroupProgress]:
    """Lock and return GROUP_PROGRESS rows in primary-key order (missing IDs are left out)."""
    return list(GroupProgress.objects.select_for_update().filter(pk__in=sorted(set(group_ids))).order_by("pk"))


def examinee_group_progress_lock(*, examinee_id: str) -> GroupProgress | None:
    """Lock and return the GROUP_PROGRESS row of an examinee's group, found and locked in one
    statement (None when the examinee has no progress row)."""
    groups = examinees_group_progress_lock(examinee_ids=[examinee_id])
    return groups[0] if groups else None


def examinees_group_progress_lock(*, examinee_ids: Iterable[str]) -> list[GroupProgress]:
    """Lock and return the GROUP_PROGRESS rows of several examinees' groups in primary-key order,
    found and locked in one statement (examinees without a progress row add none)."""
    group_ids = ExamineeProgress.objects.filter(pk__in=sorted(set(examinee_ids))).values("group_id")
    return list(GroupProgress.objects.select_for_update().filter(pk__in=Subquery(group_ids)).order_by("pk"))


def plan_groups_progress_lock(*, plan_id: str) -> list[GroupProgress]:
    """Lock and return every GROUP_PROGRESS row of a plan, in primary-key order."""
    return list(GroupProgress.objects.select_for_update().filter(plan_id=plan_id).order_by("pk"))


def examinee_progress_lock(*, examinee_ids: Iterable[str]) -> QuerySet[ExamineeProgress]:
    """EXAMINEE_PROGRESS rows locked (only these rows, not joined ones) in primary-key order."""
    return (
        ExamineeProgress.objects.select_for_update(of=("self",)).filter(pk__in=sorted(set(examinee_ids))).order_by("pk")
    )


def supervisor_progress_lock(*, supervisor_id: str) -> SupervisorProgress | None:
    """Lock and return one SUPERVISOR_PROGRESS row (None when there is none)."""
    return SupervisorProgress.objects.select_for_update().filter(pk=supervisor_id).first()
