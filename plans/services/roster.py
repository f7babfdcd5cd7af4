"""Creating plans, stages, groups and the people in them, with their progress rows.

Every plan gets its TEST_PROGRESS row, every group its GROUP_PROGRESS row, every examinee and
supervisor a progress row, in the same transaction as the row itself; the assigned counters of
GROUP_PROGRESS move with F() updates, and `group_progress_recount` rebuilds them from the rows.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Count, F, Q

from monitoring.messages import CodedError, Msg

from ..choices import ConnectionStatus, ExamStatus, ProgressStatus, YesNo
from ..models import (
    Examinee,
    ExamineeProgress,
    GroupProgress,
    QuestionPaper,
    Supervisor,
    SupervisorProgress,
    TestGroup,
    TestPlan,
    TestProgress,
    TestStage,
)

BULK_BATCH_SIZE = 2000
GROUP_COUNTER_FIELDS = [
    "assigned_examinee_cnt",
    "connected_examinee_cnt",
    "submitted_examinee_cnt",
    "assigned_supervisor_cnt",
    "connected_supervisor_cnt",
]


@transaction.atomic
def plan_create(*, plan_id: str, plan_name: str, start_datetime: datetime, end_datetime: datetime) -> TestPlan:
    """Create a plan and its TEST_PROGRESS row (READY)."""
    plan = TestPlan(plan_id=plan_id, plan_name=plan_name, start_datetime=start_datetime, end_datetime=end_datetime)
    plan.full_clean()
    plan.save(force_insert=True)
    TestProgress.objects.create(plan=plan, status_code=ProgressStatus.READY)
    return plan


@transaction.atomic
def stage_create(
    *,
    plan: TestPlan,
    stage_id: str,
    stage_name: str,
    time_limit: int,
    stage_order: int,
    auto_move: bool = True,
    paper: QuestionPaper | None = None,
    test_time: int | None = None,
) -> TestStage:
    """Create one stage of a plan."""
    stage = TestStage(
        stage_id=stage_id,
        plan=plan,
        stage_name=stage_name,
        time_limit=time_limit,
        stage_order=stage_order,
        auto_move_yn=YesNo.YES if auto_move else YesNo.NO,
        test_code=paper,
        test_time=test_time,
    )
    stage.full_clean()
    stage.save(force_insert=True)
    return stage


@transaction.atomic
def group_create(
    *,
    plan: TestPlan,
    group_id: str,
    group_name: str,
    start_datetime: datetime,
    end_datetime: datetime,
    group_desc: str | None = None,
) -> TestGroup:
    """Create a group and its GROUP_PROGRESS row (READY, all counts 0)."""
    group = TestGroup(
        group_id=group_id,
        plan=plan,
        group_name=group_name,
        group_desc=group_desc,
        start_datetime=start_datetime,
        end_datetime=end_datetime,
    )
    group.full_clean()
    group.save(force_insert=True)
    GroupProgress.objects.create(group=group, plan=plan, status_code=ProgressStatus.READY)
    return group


def plan_first_stage_get(*, plan_id: str) -> TestStage:
    """The stage an examinee of the plan starts in; CodedError when the plan has none yet."""
    stage = TestStage.objects.filter(plan_id=plan_id).order_by("stage_order").first()
    if stage is None:
        raise CodedError(Msg.EXAM_NO_STAGE, detail=plan_id)
    return stage


@dataclass(frozen=True)
class PersonRow:
    """One examinee or supervisor to create: IDs and name (plan is taken from the group)."""

    person_id: str
    group_id: str
    name: str
    plan_id: str | None = None
    password: str | None = None


def _groups_for(rows: Sequence[PersonRow]) -> dict[str, TestGroup]:
    group_ids = {row.group_id for row in rows}
    groups = {group.pk: group for group in TestGroup.objects.filter(pk__in=group_ids)}
    missing = sorted(group_ids - groups.keys())
    if missing:
        raise CodedError(Msg.IMPORT_ROW_INVALID, detail=f"unknown group: {', '.join(missing[:10])}")
    for row in rows:
        group_plan_id = groups[row.group_id].plan_id
        if row.plan_id is not None and row.plan_id != group_plan_id:
            detail = f"{row.person_id}: group {row.group_id} belongs to plan {group_plan_id}, not {row.plan_id}"
            raise CodedError(Msg.IMPORT_ROW_INVALID, detail=detail)
    return groups


def _check_unique(rows: Sequence[PersonRow], model: type[Examinee] | type[Supervisor]) -> None:
    repeated = [person_id for person_id, count in Counter(row.person_id for row in rows).items() if count > 1]
    if repeated:
        raise CodedError(Msg.IMPORT_ROW_INVALID, detail=f"repeated ID: {', '.join(sorted(repeated)[:10])}")
    existing = list(model.objects.filter(pk__in=[row.person_id for row in rows]).values_list("pk", flat=True)[:10])
    if existing:
        raise CodedError(Msg.IMPORT_ROW_INVALID, detail=f"ID already exists: {', '.join(sorted(existing))}")


def _bump_assigned(counts: Counter, field: str) -> None:
    for group_id, count in counts.items():
        GroupProgress.objects.filter(group_id=group_id).update(**{field: F(field) + count})


@transaction.atomic
def examinees_bulk_create(*, rows: Sequence[PersonRow]) -> list[Examinee]:
    """Create examinees with their EXAMINEE_PROGRESS rows (WAITING, first stage) in bulk.

    All or nothing: an unknown group, a plan that does not match the group, a repeated or
    existing ID refuses the whole batch with IMPORT_ROW_INVALID.
    """
    if not rows:
        return []
    groups = _groups_for(rows)
    _check_unique(rows, Examinee)
    first_stage = {plan_id: plan_first_stage_get(plan_id=plan_id) for plan_id in {g.plan_id for g in groups.values()}}
    examinees = []
    for row in rows:
        group = groups[row.group_id]
        examinee = Examinee(examinee_id=row.person_id, group=group, plan_id=group.plan_id, examinee_name=row.name)
        examinee.clean_fields(exclude=["group", "plan"])
        examinees.append(examinee)
    Examinee.objects.bulk_create(examinees, batch_size=BULK_BATCH_SIZE)
    ExamineeProgress.objects.bulk_create(
        [
            ExamineeProgress(
                examinee=examinee,
                group_id=examinee.group_id,
                plan_id=examinee.plan_id,
                exam_status_code=ExamStatus.WAITING,
                conn_status_code=ConnectionStatus.DISCONNECTED,
                current_stage=first_stage[examinee.plan_id],
            )
            for examinee in examinees
        ],
        batch_size=BULK_BATCH_SIZE,
    )
    _bump_assigned(Counter(examinee.group_id for examinee in examinees), "assigned_examinee_cnt")
    return examinees


@transaction.atomic
def supervisors_bulk_create(*, rows: Sequence[PersonRow]) -> list[Supervisor]:
    """Create supervisors, their sign-in users (username = SUPERVISOR_ID) and progress rows.

    A row without a password gets an unusable password: the operator sets one in the admin.
    """
    if not rows:
        return []
    groups = _groups_for(rows)
    _check_unique(rows, Supervisor)
    User = get_user_model()
    taken = set(User.objects.filter(username__in=[row.person_id for row in rows]).values_list("username", flat=True))
    if taken:
        raise CodedError(Msg.IMPORT_ROW_INVALID, detail=f"user name already exists: {', '.join(sorted(taken)[:10])}")
    users = [
        User(username=row.person_id, first_name=row.name[:150], is_active=True, password=make_password(row.password))
        for row in rows
    ]
    User.objects.bulk_create(users, batch_size=BULK_BATCH_SIZE)
    users_by_name = {user.username: user for user in User.objects.filter(username__in=[row.person_id for row in rows])}
    supervisors = []
    for row in rows:
        group = groups[row.group_id]
        supervisor = Supervisor(
            supervisor_id=row.person_id,
            group=group,
            plan_id=group.plan_id,
            supervisor_name=row.name,
            user=users_by_name[row.person_id],
        )
        supervisor.clean_fields(exclude=["group", "plan", "user"])
        supervisors.append(supervisor)
    Supervisor.objects.bulk_create(supervisors, batch_size=BULK_BATCH_SIZE)
    SupervisorProgress.objects.bulk_create(
        [SupervisorProgress(supervisor=s, group_id=s.group_id, plan_id=s.plan_id) for s in supervisors],
        batch_size=BULK_BATCH_SIZE,
    )
    _bump_assigned(Counter(s.group_id for s in supervisors), "assigned_supervisor_cnt")
    return supervisors


@transaction.atomic
def group_progress_recount(*, group_ids: Iterable[str]) -> int:
    """Rebuild the counters of GROUP_PROGRESS from the rows (the periodic reconciliation).

    Returns how many groups had drifted. Locks the progress rows in primary-key order.
    """
    group_ids = sorted(set(group_ids))
    progress_rows = {p.pk: p for p in GroupProgress.objects.select_for_update().filter(pk__in=group_ids).order_by("pk")}
    examinee_counts = {
        row["group_id"]: row
        for row in ExamineeProgress.objects.filter(group_id__in=group_ids)
        .values("group_id")
        .annotate(
            assigned=Count("pk"),
            connected=Count("pk", filter=Q(conn_status_code=ConnectionStatus.CONNECTED)),
            submitted=Count("pk", filter=Q(exam_status_code=ExamStatus.SUBMITTED)),
        )
    }
    supervisor_counts = {
        row["group_id"]: row
        for row in SupervisorProgress.objects.filter(group_id__in=group_ids)
        .values("group_id")
        .annotate(assigned=Count("pk"), connected=Count("pk", filter=Q(conn_status_code=ConnectionStatus.CONNECTED)))
    }
    drifted = []
    for group_id, progress in progress_rows.items():
        examinees = examinee_counts.get(group_id, {})
        supervisors = supervisor_counts.get(group_id, {})
        wanted = {
            "assigned_examinee_cnt": examinees.get("assigned", 0),
            "connected_examinee_cnt": examinees.get("connected", 0),
            "submitted_examinee_cnt": examinees.get("submitted", 0),
            "assigned_supervisor_cnt": supervisors.get("assigned", 0),
            "connected_supervisor_cnt": supervisors.get("connected", 0),
        }
        if any(getattr(progress, field) != value for field, value in wanted.items()):
            for field, value in wanted.items():
                setattr(progress, field, value)
            drifted.append(progress)
    GroupProgress.objects.bulk_update(drifted, GROUP_COUNTER_FIELDS)
    return len(drifted)
