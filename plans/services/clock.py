"""The server-owned exam clock (issue 4, "Exam lifecycle and timing"): what an examinee's page
shows and what the answer path accepts, computed from the database, never from the client.

The remaining time of the current stage is `stage_deadline - now` while the group runs and
`stage_deadline - paused_at` while it is paused (frozen); plans.services.lifecycle keeps the
deadline (start + TIME_LIMIT + extra time, shifted by each pause on resume).

Read-only entry points for other apps, with stable names:
- `examinee_clock_get(examinee_id)` -> ExamClock, for the page and the heartbeat
  (`examinee_clocks_get` for several at once);
- `examinee_write_window_check(examinee_id, stage_id)`, the answer path's gate (one query);
- `plan_progress_overview_get(plan_id=...)`, the operator's statuses and live counts.
- `plan_group_stage_clocks_get(plan_id=...)`, every group's stage(s) and remaining time (the
  operator's control page, plans.admin).
A clock that shows a closed AUTO_MOVE 'Y' stage before the beat tick moved the examinee can be
settled at once with plans.services.lifecycle.examinee_deadlines_enforce.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max, Min
from django.utils import timezone

from monitoring.messages import CodedError, Msg

from ..choices import ExamStatus, ProgressStatus
from ..models import ExamineeProgress, GroupProgress, TestProgress, TestStage

CLOSED_EXAM_STATUSES = (ExamStatus.SUBMITTED, ExamStatus.GIVE_UP)


@dataclass(frozen=True)
class ExamClock:
    """An examinee's clock in the current stage, as the server sees it at `server_now`.

    `deadline` is None while the group is paused (the clock stands) or when no stage runs for
    the examinee. `remaining_seconds` is rounded up (it shows 0 only when the time is over);
    `remaining_ms` is exact, for the page's countdown together with `server_now` (the page
    corrects for its own clock offset and half the heartbeat round trip). `open` says whether
    the answer path accepts writes to `stage_id` now.
    """

    examinee_id: str
    plan_id: str
    group_id: str
    stage_id: str
    test_code: str
    stage_order: int
    stage_name: str
    auto_move: bool
    exam_status: str
    group_status: str
    deadline: datetime | None
    remaining_seconds: int
    remaining_ms: int
    extra_seconds: int
    paused: bool
    open: bool
    server_now: datetime

    def as_message(self) -> dict:
        """The clock as the page's JSON message ("exam.clock"): ISO times, camelCase like the transfer structure."""
        return {
            "type": "exam.clock",
            "examineeId": self.examinee_id,
            "stageId": self.stage_id,
            "stageOrder": self.stage_order,
            "stageName": self.stage_name,
            "autoMove": self.auto_move,
            "examStatus": self.exam_status,
            "groupStatus": self.group_status,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "remainingSeconds": self.remaining_seconds,
            "remainingMs": self.remaining_ms,
            "extraSeconds": self.extra_seconds,
            "paused": self.paused,
            "open": self.open,
            "serverTime": self.server_now.isoformat(),
        }


def _remaining(*, deadline: datetime | None, paused_at: datetime | None, now: datetime) -> timedelta:
    if deadline is None:
        return timedelta(0)
    reference = paused_at if paused_at is not None else now
    return max(deadline - reference, timedelta(0))


def examinee_clock_get(examinee_id: str, *, now: datetime | None = None) -> ExamClock:
    """The examinee's clock now (one query); EXAM_NOT_FOUND for an unknown examinee."""
    clock = examinee_clocks_get([examinee_id], now=now).get(examinee_id)
    if clock is None:
        raise CodedError(Msg.EXAM_NOT_FOUND, detail=f"examinee {examinee_id}")
    return clock


def examinee_clocks_get(examinee_ids: Iterable[str], *, now: datetime | None = None) -> dict[str, ExamClock]:
    """The clocks of several examinees now, with one query (an ASGI process's connects of the same
    moment, answers.connects); an unknown examinee is left out."""
    now = now or timezone.now()
    rows = ExamineeProgress.objects.filter(pk__in=set(examinee_ids)).values(
        "pk",
        "plan_id",
        "group_id",
        "exam_status_code",
        "current_stage_id",
        "current_stage__test_code_id",
        "current_stage__stage_order",
        "current_stage__stage_name",
        "current_stage__auto_move_yn",
        "stage_deadline",
        "stage_extra_seconds",
        "group__progress__status_code",
        "group__progress__paused_at",
    )
    return {row["pk"]: _clock(row, now=now) for row in rows}


def _clock(row: dict, *, now: datetime) -> ExamClock:
    group_status = row["group__progress__status_code"]
    paused = group_status == ProgressStatus.PAUSED
    paused_at = row["group__progress__paused_at"] if paused else None
    deadline = row["stage_deadline"]
    sitting = row["exam_status_code"] in (ExamStatus.WAITING, ExamStatus.IN_PROGRESS)
    if not sitting:
        deadline = None
    remaining = _remaining(deadline=deadline, paused_at=paused_at, now=now)
    remaining_ms = remaining // timedelta(milliseconds=1)
    is_open = (
        row["exam_status_code"] == ExamStatus.IN_PROGRESS
        and group_status == ProgressStatus.IN_PROGRESS
        and deadline is not None
        and deadline > now
    )
    return ExamClock(
        examinee_id=row["pk"],
        plan_id=row["plan_id"],
        group_id=row["group_id"],
        stage_id=row["current_stage_id"],
        test_code=row["current_stage__test_code_id"] or "",
        stage_order=row["current_stage__stage_order"],
        stage_name=row["current_stage__stage_name"],
        auto_move=row["current_stage__auto_move_yn"] == "Y",
        exam_status=row["exam_status_code"],
        group_status=group_status,
        deadline=None if paused else deadline,
        remaining_seconds=math.ceil(remaining.total_seconds()),
        remaining_ms=remaining_ms,
        extra_seconds=row["stage_extra_seconds"],
        paused=paused,
        open=is_open,
        server_now=now,
    )


def examinee_write_window_check(
    examinee_id: str, stage_id: str, *, now: datetime | None = None, grace_seconds: float = 0.0
) -> None:
    """Refuse an answer write outside the examinee's open window; returns None when it is open.

    One indexed query on the accepted path. Raises CodedError, checked in this order:
    EXAM_NOT_FOUND (unknown examinee), EXAM_ALREADY_SUBMITTED (submitted or gave up),
    EXAM_NOT_OPEN (group not started or completed, examinee not begun, or `stage_id` is a later
    stage), EXAM_STAGE_CLOSED (`stage_id` is an earlier stage, or its deadline has passed),
    EXAM_PAUSED (the group is paused).

    Args:
        grace_seconds: accept a write this long after the deadline, for a change the page made
            in time that was in flight (the caller decides, from the server's receive time).
    """
    now = now or timezone.now()
    row = (
        ExamineeProgress.objects.filter(pk=examinee_id)
        .values_list(
            "exam_status_code",
            "current_stage_id",
            "stage_deadline",
            "group__progress__status_code",
            "group__progress__paused_at",
        )
        .first()
    )
    if row is None:
        raise CodedError(Msg.EXAM_NOT_FOUND, detail=f"examinee {examinee_id}")
    exam_status, current_stage_id, deadline, group_status, paused_at = row
    if exam_status in CLOSED_EXAM_STATUSES:
        raise CodedError(Msg.EXAM_ALREADY_SUBMITTED, detail=f"examinee {examinee_id} is {exam_status}")
    if group_status not in (ProgressStatus.IN_PROGRESS, ProgressStatus.PAUSED):
        raise CodedError(Msg.EXAM_NOT_OPEN, detail=f"group is {group_status}")
    if exam_status != ExamStatus.IN_PROGRESS:
        raise CodedError(Msg.EXAM_NOT_OPEN, detail=f"examinee {examinee_id} is {exam_status}")
    if stage_id != current_stage_id:
        _other_stage_refuse(stage_id=stage_id, current_stage_id=current_stage_id)
    grace = timedelta(seconds=grace_seconds)
    if deadline is None:
        raise CodedError(Msg.EXAM_STAGE_CLOSED, detail=f"stage {stage_id} has no running clock")
    if group_status == ProgressStatus.PAUSED:
        if deadline + grace <= paused_at:
            raise CodedError(Msg.EXAM_STAGE_CLOSED, detail=f"stage {stage_id} closed at {deadline.isoformat()}")
        raise CodedError(Msg.EXAM_PAUSED, detail=f"paused since {paused_at.isoformat()}")
    if deadline + grace <= now:
        raise CodedError(Msg.EXAM_STAGE_CLOSED, detail=f"stage {stage_id} closed at {deadline.isoformat()}")


def _other_stage_refuse(*, stage_id: str, current_stage_id: str) -> None:
    stages = {
        pk: (plan_id, order)
        for pk, plan_id, order in TestStage.objects.filter(pk__in=[stage_id, current_stage_id]).values_list(
            "pk", "plan_id", "stage_order"
        )
    }
    if stage_id not in stages or stages[stage_id][0] != stages[current_stage_id][0]:
        raise CodedError(Msg.EXAM_NOT_OPEN, detail=f"stage {stage_id} is not a stage of this exam")
    if stages[stage_id][1] < stages[current_stage_id][1]:
        raise CodedError(Msg.EXAM_STAGE_CLOSED, detail=f"stage {stage_id} is over; now {current_stage_id}")
    raise CodedError(Msg.EXAM_NOT_OPEN, detail=f"stage {stage_id} has not started; now {current_stage_id}")


@dataclass(frozen=True)
class PlanProgressOverview:
    """A plan's live state for the operator: its TEST_PROGRESS row and every GROUP_PROGRESS row with counts."""

    progress: TestProgress
    groups: list[GroupProgress]


def plan_progress_overview_get(*, plan_id: str) -> PlanProgressOverview:
    """The plan's status and its groups' statuses and head counts (two queries, no count(*))."""
    progress = TestProgress.objects.filter(pk=plan_id).first()
    if progress is None:
        raise CodedError(Msg.EXAM_NOT_FOUND, detail=f"plan {plan_id}")
    groups = list(GroupProgress.objects.filter(plan_id=plan_id).select_related("group").order_by("group_id"))
    return PlanProgressOverview(progress=progress, groups=groups)


@dataclass(frozen=True)
class GroupStageClock:
    """The examinees of one group who are in one stage with a running (or paused) clock.

    A group's examinees are usually all in the same stage; extra time and late arrivals can
    spread them over two. `first_*` is the earliest deadline among them (the group's schedule),
    `last_*` the latest (with extra time). `remaining_*_ms` stand still while the group is paused.
    """

    group_id: str
    stage_id: str
    stage_order: int
    stage_name: str
    auto_move: bool
    examinees: int
    paused: bool
    first_deadline: datetime
    last_deadline: datetime
    first_remaining_ms: int
    last_remaining_ms: int


def plan_group_stage_clocks_get(*, plan_id: str, now: datetime | None = None) -> list[GroupStageClock]:
    """Every group's current stage(s) and remaining time, for the operator's control page.

    One aggregate query over the plan's examinees who still follow the schedule (WAITING or
    IN_PROGRESS with a deadline), whatever the number of groups; ordered by group and stage
    order. The control page polls it every 2 s, so it never reads per group or per examinee row.
    """
    now = now or timezone.now()
    rows = (
        ExamineeProgress.objects.filter(
            plan_id=plan_id,
            exam_status_code__in=(ExamStatus.WAITING, ExamStatus.IN_PROGRESS),
            stage_deadline__isnull=False,
        )
        .values(
            "group_id",
            "current_stage_id",
            "current_stage__stage_order",
            "current_stage__stage_name",
            "current_stage__auto_move_yn",
            "group__progress__status_code",
            "group__progress__paused_at",
        )
        .annotate(examinees=Count("pk"), first_deadline=Min("stage_deadline"), last_deadline=Max("stage_deadline"))
        .order_by("group_id", "current_stage__stage_order")
    )
    clocks = []
    for row in rows:
        paused = row["group__progress__status_code"] == ProgressStatus.PAUSED
        paused_at = row["group__progress__paused_at"] if paused else None
        first = _remaining(deadline=row["first_deadline"], paused_at=paused_at, now=now)
        last = _remaining(deadline=row["last_deadline"], paused_at=paused_at, now=now)
        clocks.append(
            GroupStageClock(
                group_id=row["group_id"],
                stage_id=row["current_stage_id"],
                stage_order=row["current_stage__stage_order"],
                stage_name=row["current_stage__stage_name"],
                auto_move=row["current_stage__auto_move_yn"] == "Y",
                examinees=row["examinees"],
                paused=paused,
                first_deadline=row["first_deadline"],
                last_deadline=row["last_deadline"],
                first_remaining_ms=first // timedelta(milliseconds=1),
                last_remaining_ms=last // timedelta(milliseconds=1),
            )
        )
    return clocks
