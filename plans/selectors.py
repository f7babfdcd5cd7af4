"""Reads of the plans app: querysets with their joins applied, and the look-ups the roster import checks.

The admin lists and the CSV import read through these functions so that the joins (and so the
query count of a page of 100 examinees) are decided in one place.
"""

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from .models import Examinee, GroupProgress, Supervisor, TestGroup, TestPlan, TestStage


def plan_list() -> QuerySet[TestPlan]:
    """Plans with their TEST_PROGRESS row joined (the status column of the admin list)."""
    return TestPlan.objects.select_related("progress")


def group_list() -> QuerySet[TestGroup]:
    """Groups with their plan and GROUP_PROGRESS row (status and head counts) joined."""
    return TestGroup.objects.select_related("plan", "progress")


def examinee_list() -> QuerySet[Examinee]:
    """Examinees with plan, group and EXAMINEE_PROGRESS joined: one query for a page of the admin list."""
    return Examinee.objects.select_related("plan", "group", "progress")


def supervisor_list() -> QuerySet[Supervisor]:
    """Supervisors with plan, group, SUPERVISOR_PROGRESS and the sign-in user joined."""
    return Supervisor.objects.select_related("plan", "group", "progress", "user")


def group_progress_get(*, group_id: str) -> GroupProgress | None:
    """The GROUP_PROGRESS row of a group, or None when it is missing."""
    return GroupProgress.objects.filter(pk=group_id).first()


def group_plan_ids_get(*, group_ids: Iterable[str]) -> dict[str, str]:
    """{group_id: plan_id} of the groups that exist among `group_ids`."""
    return dict(TestGroup.objects.filter(pk__in=list(set(group_ids))).values_list("pk", "plan_id"))


def plan_ids_with_stages_get(*, plan_ids: Iterable[str]) -> set[str]:
    """Those of `plan_ids` that have at least one stage (an examinee starts in the first stage)."""
    return set(TestStage.objects.filter(plan_id__in=list(set(plan_ids))).values_list("plan_id", flat=True).distinct())


def examinee_ids_existing_get(*, examinee_ids: Iterable[str]) -> set[str]:
    """Those of `examinee_ids` that are already taken."""
    return set(Examinee.objects.filter(pk__in=list(set(examinee_ids))).values_list("pk", flat=True))


def supervisor_ids_existing_get(*, supervisor_ids: Iterable[str]) -> set[str]:
    """Those of `supervisor_ids` that are already taken."""
    return set(Supervisor.objects.filter(pk__in=list(set(supervisor_ids))).values_list("pk", flat=True))


def usernames_existing_get(*, usernames: Iterable[str]) -> set[str]:
    """Those of `usernames` that a Django user already has (a supervisor signs in as SUPERVISOR_ID)."""
    User = get_user_model()
    return set(User.objects.filter(username__in=list(set(usernames))).values_list("username", flat=True))


def person_group_ids_get(*, queryset: QuerySet) -> set[str]:
    """The groups of the examinees or supervisors in `queryset` (the counters a delete must recount)."""
    return set(queryset.order_by().values_list("group_id", flat=True).distinct())


def supervisor_user_ids_get(*, queryset: QuerySet[Supervisor]) -> set[int]:
    """The sign-in users linked to the supervisors in `queryset`."""
    return set(queryset.order_by().exclude(user__isnull=True).values_list("user_id", flat=True))
