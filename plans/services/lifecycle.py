"""The exam state machines of plans, groups and examinees, and the stage deadlines (issue 4,
"Exam lifecycle and timing"; status codes of ../shared/seeds/003_0917053a83c69344.txt 3.1).

One home for every status change:
- the transition tables live in plans.choices; every change here calls one of
  `plan_transition_check`, `group_transition_check`, `examinee_transition_check`,
  `connection_transition_check` first, and records a STATUS_TRANSITION row (who, when, from, to);
- plan and group READY -> IN_PROGRESS <-> PAUSED -> COMPLETED; a plan's start, pause, resume and
  completion carry over to its groups; examinee WAITING -> IN_PROGRESS -> SUBMITTED | GIVE_UP;
  the connection CONNECTED <-> DISCONNECTED is kept apart from the exam status;
- the clock is the server's: each examinee row holds the deadline of the current stage; a pause
  freezes it (the sweep skips paused groups, plans.services.clock reports the remaining time at
  the pause), a resume shifts every deadline of the group by the pause's exact length, extra time
  moves one examinee's deadline;
- `stage_deadlines_enforce` moves examinees of AUTO_MOVE 'Y' stages whose deadline passed to the
  next stage (starting at that deadline, so the schedule does not drift when a sweep runs late),
  and submits the sheet after the last stage. The beat task calls it every second and it reads
  all its state from the database, so it holds after a restart of any process; a pause and
  `group_stage_advance` call it first for their group, so nothing overdue is frozen or released
  off schedule; `examinee_deadlines_enforce` is the on-demand check for one examinee's group.
- GROUP_PROGRESS counters move with F() in the same transaction as the examinee's change;
  `group_progress_reconcile` corrects any drift periodically.

Pages learn about a change through a doorbell on the channel layer, rung on commit (the page
then reads its clock again); the channel layer may drop it, the database stays the truth.
Lock order: see plans.lock_objects.
"""

import functools
import hashlib
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from exam_platform.db import rows_update
from exam_platform.doorbells import doorbells_ring
from exam_platform.redis import redis_client
from monitoring.messages import CodedError, Msg

from ..choices import (
    CONNECTION_TRANSITIONS,
    EXAM_TRANSITIONS,
    PROGRESS_TRANSITIONS,
    ConnectionStatus,
    ExamStatus,
    ProgressStatus,
    Transition,
    TransitionAction,
    TransitionSubject,
    YesNo,
)
from ..lock_objects import (
    examinee_group_progress_lock,
    examinee_progress_lock,
    examinees_group_progress_lock,
    group_progress_lock,
    plan_groups_progress_lock,
    plan_progress_lock,
    supervisor_progress_lock,
)
from ..models import (
    ExamineeProgress,
    GroupProgress,
    StatusTransition,
    SupervisorProgress,
    TestGroup,
    TestPlan,
    TestProgress,
    TestStage,
)
from .roster import group_progress_recount, plan_first_stage_get

logger = logging.getLogger(__name__)

SYSTEM_TIMER_ACTOR = "system:timer"
MAX_EXTENSION_SECONDS = 24 * 3600
SWEEP_BATCH_SIZE = 2000
# A sweep that keeps finding due rows stops after this many batches; the next tick goes on.
SWEEP_MAX_BATCHES = 50
RECONCILE_BATCH_SIZE = 200
ACTOR_LENGTH = StatusTransition._meta.get_field("actor").max_length
REASON_LENGTH = StatusTransition._meta.get_field("reason").max_length
IP_LENGTH = ExamineeProgress._meta.get_field("ip_addr").max_length
BROWSER_LENGTH = ExamineeProgress._meta.get_field("browser_info").max_length
OPEN_EXAM_STATUSES = (ExamStatus.WAITING, ExamStatus.IN_PROGRESS)
RUNNING_GROUP_STATUSES = (ProgressStatus.IN_PROGRESS, ProgressStatus.PAUSED)
CHANNEL_SAFE = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")


# Transition checks: the one gate of every status change -----------------------------------


def _transition_check(table: dict[str, Transition], *, current: str, action: str, subject: str) -> str:
    step = table.get(action)
    if step is None or current not in step.sources:
        raise CodedError(Msg.EXAM_ILLEGAL_TRANSITION, detail=f"{subject}: {action} is not allowed from {current}")
    return step.target


def plan_transition_check(*, current: str, action: str, plan_id: str) -> str:
    """The plan status `action` leads to from `current` (plans.choices.PROGRESS_TRANSITIONS);
    EXAM_ILLEGAL_TRANSITION when the table has no such step."""
    return _transition_check(PROGRESS_TRANSITIONS, current=current, action=action, subject=f"plan {plan_id}")


def group_transition_check(*, current: str, action: str, group_id: str) -> str:
    """The group status `action` leads to from `current` (plans.choices.PROGRESS_TRANSITIONS)."""
    return _transition_check(PROGRESS_TRANSITIONS, current=current, action=action, subject=f"group {group_id}")


def examinee_transition_check(*, current: str, action: str, examinee_id: str) -> str:
    """The exam status `action` leads to from `current` (plans.choices.EXAM_TRANSITIONS)."""
    return _transition_check(EXAM_TRANSITIONS, current=current, action=action, subject=f"examinee {examinee_id}")


def connection_transition_check(*, current: str, action: str, person_id: str) -> str:
    """The connection status `action` leads to from `current` (plans.choices.CONNECTION_TRANSITIONS)."""
    return _transition_check(CONNECTION_TRANSITIONS, current=current, action=action, subject=f"connection {person_id}")


# Audit and doorbell ------------------------------------------------------------------------


def _record(
    *,
    subject_type: str,
    subject_id: str,
    plan_id: str,
    action: str,
    actor: str,
    now: datetime,
    group_id: str = "",
    from_value: str = "",
    to_value: str = "",
    seconds: int | None = None,
    reason: str = "",
) -> StatusTransition:
    return StatusTransition(
        occurred_at=now,
        actor=actor[:ACTOR_LENGTH],
        subject_type=subject_type,
        subject_id=subject_id,
        plan_id=plan_id,
        group_id=group_id,
        action=action,
        from_value=from_value,
        to_value=to_value,
        seconds=seconds,
        reason=reason[:REASON_LENGTH],
    )


def _records_save(records: Sequence[StatusTransition]) -> None:
    if records:
        StatusTransition.objects.bulk_create(records, batch_size=SWEEP_BATCH_SIZE)


def _actor_check(actor: str) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise CodedError(Msg.VALIDATION_SCHEMA, detail="actor is required")
    return actor.strip()


def _channel_name(prefix: str, identifier: str) -> str:
    # Channel group names allow only ASCII letters, digits, '-', '_' and '.', below 100 characters;
    # an ID with other characters is named by its hash.
    if CHANNEL_SAFE.match(identifier):
        return f"{prefix}.{identifier}"
    return f"{prefix}.h{hashlib.sha256(identifier.encode('utf-8')).hexdigest()[:40]}"


def exam_group_channel_name(group_id: str) -> str:
    """The channel-layer group that every page of one exam group (examinees, supervisors) joins."""
    return _channel_name("exam.group", group_id)


def exam_examinee_channel_name(examinee_id: str) -> str:
    """The channel-layer group of one examinee's open pages (their own clock, their answers' commits)."""
    return _channel_name("exam.examinee", examinee_id)


def exam_group_epoch_key(group_id: str) -> str:
    """The Redis key of a group's state epoch: a counter raised after every committed change of the
    group's state (the same moments its doorbell rings); exam_examinee_epoch_key is the same for
    one examinee's own changes (begin, stage move, extra time, submit).

    The answer path keeps each examinee's context (stage, paper, clock, pause) in the socket's
    memory and checks, inside the same Lua call that stores a save, that neither epoch has moved
    since the context was read (answers.redis_scripts.SYNC_APPLY); a moved epoch makes the socket
    read the context again. A save therefore costs no database query and is never judged on a
    state older than the last committed change, even when the doorbell itself was lost. Two
    counters, so that 10,000 examinees beginning at once do not make their whole group re-read.
    """
    return f"state:epoch:group:{group_id}"


def exam_examinee_epoch_key(examinee_id: str) -> str:
    """The Redis key of one examinee's state epoch (see exam_group_epoch_key)."""
    return f"state:epoch:examinee:{examinee_id}"


def exam_epochs_bump(*, keys: Iterable[str]) -> None:
    """Raise state epochs (after commit). Failing Redis is logged, not raised: the change is
    committed, and sockets read their context again at the latest after
    answers.consumers.CONTEXT_SAFETY_SECONDS."""
    keys = list(keys)
    try:
        pipe = redis_client().pipeline(transaction=False)
        for key in keys:
            pipe.incr(key)
        pipe.execute()
    except redis.RedisError:
        logger.warning("state epochs %s not raised", keys, exc_info=True)


def exam_event_publish_on_commit(*, group_ids: Iterable[str], event: dict[str, Any]) -> None:
    """Ring the doorbell of each group's pages after the current transaction commits.

    `event["type"]` is "exam.state" (the group's status changed: paused, resumed, started,
    completed) or "exam.clock" (stage moves, extra time, submits: read the clock again). An event
    of one examinee (`event["examinee_id"]`) rings only that examinee's pages and raises only their
    epoch. The channel layer may drop a ring (at-most-once); the page re-reads its clock on every
    ring, on every heartbeat whose epoch moved, and on reconnect, so a lost ring costs latency,
    never correctness.
    """
    group_ids = sorted(set(group_ids))
    if not group_ids:
        return
    examinee_id = event.get("examinee_id")
    if examinee_id is not None:
        rings = [(exam_examinee_channel_name(examinee_id), {**event, "group_id": group_ids[0]})]
        epochs = [exam_examinee_epoch_key(examinee_id)]
    else:
        rings = [(exam_group_channel_name(group_id), {**event, "group_id": group_id}) for group_id in group_ids]
        epochs = [exam_group_epoch_key(group_id) for group_id in group_ids]

    def ring() -> None:
        exam_epochs_bump(keys=epochs)
        doorbells_ring(rings)

    transaction.on_commit(ring)


def _state_event(*, plan_id: str, status: str, now: datetime) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "exam.state",
        "plan_id": plan_id,
        "status": status,
        "server_time": now.isoformat(),
    }
    if status == ProgressStatus.PAUSED:
        event["code"] = Msg.EXAM_PAUSED.code
    return event


def _clock_event(*, reason: str, now: datetime, examinee_id: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "exam.clock", "reason": reason, "server_time": now.isoformat()}
    if examinee_id is not None:
        event["examinee_id"] = examinee_id
    return event


# Plans -------------------------------------------------------------------------------------


@transaction.atomic
def plan_start(*, plan: TestPlan, actor: str, now: datetime | None = None) -> TestProgress:
    """Start a plan: TEST_PROGRESS and every READY group move READY -> IN_PROGRESS.

    Each started group's examinees begin the first stage now (their deadline is now + its
    TIME_LIMIT); the connected ones move WAITING -> IN_PROGRESS. A plan without stages is refused
    with EXAM_NO_STAGE.
    """
    actor = _actor_check(actor)
    now = now or timezone.now()
    progress = plan_progress_lock(plan_id=plan.pk)
    plan_transition_check(current=progress.status_code, action=TransitionAction.START, plan_id=plan.pk)
    first_stage = plan_first_stage_get(plan_id=plan.pk)
    records = [_plan_record(progress=progress, action=TransitionAction.START, actor=actor, now=now, reason="")]
    progress.status_code = ProgressStatus.IN_PROGRESS
    progress.started_at = now
    progress.save(update_fields=["status_code", "started_at"])
    started = []
    for group in plan_groups_progress_lock(plan_id=plan.pk):
        if group.status_code == ProgressStatus.READY:
            records += _group_start_locked(group=group, first_stage=first_stage, actor=actor, now=now)
            started.append(group.pk)
    _records_save(records)
    exam_event_publish_on_commit(
        group_ids=started, event=_state_event(plan_id=plan.pk, status=ProgressStatus.IN_PROGRESS, now=now)
    )
    return progress


@transaction.atomic
def plan_pause(*, plan: TestPlan, actor: str, now: datetime | None = None, reason: str = "") -> TestProgress:
    """Pause a plan: every running group of it pauses too, and all their clocks freeze.

    Groups that were already paused on their own stay paused after the plan's resume.
    """
    actor = _actor_check(actor)
    now = now or timezone.now()
    progress = plan_progress_lock(plan_id=plan.pk)
    plan_transition_check(current=progress.status_code, action=TransitionAction.PAUSE, plan_id=plan.pk)
    records = [
        _plan_record(
            progress=progress,
            action=TransitionAction.PAUSE,
            actor=actor,
            now=now,
            reason=reason,
        )
    ]
    progress.status_code = ProgressStatus.PAUSED
    progress.paused_at = now
    progress.save(update_fields=["status_code", "paused_at"])
    paused = []
    for group in plan_groups_progress_lock(plan_id=plan.pk):
        if group.status_code == ProgressStatus.IN_PROGRESS:
            records += _group_pause_locked(group=group, actor=actor, now=now, with_plan=True, reason=reason)
            paused.append(group.pk)
    _records_save(records)
    exam_event_publish_on_commit(
        group_ids=paused, event=_state_event(plan_id=plan.pk, status=ProgressStatus.PAUSED, now=now)
    )
    return progress


@transaction.atomic
def plan_resume(*, plan: TestPlan, actor: str, now: datetime | None = None, reason: str = "") -> TestProgress:
    """Resume a paused plan and the groups its pause paused; their clocks go on exactly where they stopped."""
    actor = _actor_check(actor)
    now = now or timezone.now()
    progress = plan_progress_lock(plan_id=plan.pk)
    plan_transition_check(current=progress.status_code, action=TransitionAction.RESUME, plan_id=plan.pk)
    records = [
        _plan_record(
            progress=progress,
            action=TransitionAction.RESUME,
            actor=actor,
            now=now,
            reason=reason,
        )
    ]
    progress.status_code = ProgressStatus.IN_PROGRESS
    progress.paused_at = None
    progress.save(update_fields=["status_code", "paused_at"])
    resumed = []
    for group in plan_groups_progress_lock(plan_id=plan.pk):
        if group.status_code == ProgressStatus.PAUSED and group.paused_with_plan:
            records += _group_resume_locked(group=group, actor=actor, now=now, reason=reason)
            resumed.append(group.pk)
    _records_save(records)
    exam_event_publish_on_commit(
        group_ids=resumed, event=_state_event(plan_id=plan.pk, status=ProgressStatus.IN_PROGRESS, now=now)
    )
    return progress


@transaction.atomic
def plan_complete(*, plan: TestPlan, actor: str, now: datetime | None = None, reason: str = "") -> TestProgress:
    """Complete a running or paused plan: every running or paused group completes, and every
    examinee still sitting has the sheet submitted (recorded as a force submit by `actor`).

    Groups that never started stay READY.
    """
    actor = _actor_check(actor)
    now = now or timezone.now()
    progress = plan_progress_lock(plan_id=plan.pk)
    plan_transition_check(current=progress.status_code, action=TransitionAction.COMPLETE, plan_id=plan.pk)
    records = [
        _plan_record(
            progress=progress,
            action=TransitionAction.COMPLETE,
            actor=actor,
            now=now,
            reason=reason,
        )
    ]
    progress.status_code = ProgressStatus.COMPLETED
    progress.paused_at = None
    progress.completed_at = now
    progress.save(update_fields=["status_code", "paused_at", "completed_at"])
    completed = []
    for group in plan_groups_progress_lock(plan_id=plan.pk):
        if group.status_code in RUNNING_GROUP_STATUSES:
            records += _group_complete_locked(group=group, actor=actor, now=now, reason=reason)
            completed.append(group.pk)
    _records_save(records)
    exam_event_publish_on_commit(
        group_ids=completed, event=_state_event(plan_id=plan.pk, status=ProgressStatus.COMPLETED, now=now)
    )
    return progress


def _plan_record(*, progress: TestProgress, action: str, actor: str, now: datetime, reason: str) -> StatusTransition:
    return _record(
        subject_type=TransitionSubject.PLAN,
        subject_id=progress.plan_id,
        plan_id=progress.plan_id,
        action=action,
        actor=actor,
        now=now,
        from_value=progress.status_code,
        to_value=PROGRESS_TRANSITIONS[action].target,
        reason=reason,
    )


# Groups ------------------------------------------------------------------------------------


def _group_record(
    *, group: GroupProgress, action: str, actor: str, now: datetime, reason: str = ""
) -> StatusTransition:
    return _record(
        subject_type=TransitionSubject.GROUP,
        subject_id=group.pk,
        plan_id=group.plan_id,
        group_id=group.pk,
        action=action,
        actor=actor,
        now=now,
        from_value=group.status_code,
        to_value=PROGRESS_TRANSITIONS[action].target,
        reason=reason,
    )


def _group_start_locked(
    *, group: GroupProgress, first_stage: TestStage, actor: str, now: datetime
) -> list[StatusTransition]:
    group_transition_check(current=group.status_code, action=TransitionAction.START, group_id=group.pk)
    records = [_group_record(group=group, action=TransitionAction.START, actor=actor, now=now)]
    group.status_code = ProgressStatus.IN_PROGRESS
    group.started_at = now
    group.save(update_fields=["status_code", "started_at"])
    ExamineeProgress.objects.filter(group_id=group.pk, exam_status_code=ExamStatus.WAITING).update(
        current_stage=first_stage,
        stage_started_at=now,
        stage_deadline=now + timedelta(seconds=first_stage.time_limit),
        stage_extra_seconds=0,
    )
    connected = list(
        ExamineeProgress.objects.filter(
            group_id=group.pk, exam_status_code=ExamStatus.WAITING, conn_status_code=ConnectionStatus.CONNECTED
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    ExamineeProgress.objects.filter(pk__in=connected).update(exam_status_code=ExamStatus.IN_PROGRESS)
    records += [
        _record(
            subject_type=TransitionSubject.EXAMINEE,
            subject_id=examinee_id,
            plan_id=group.plan_id,
            group_id=group.pk,
            action=TransitionAction.BEGIN,
            actor=actor,
            now=now,
            from_value=ExamStatus.WAITING,
            to_value=ExamStatus.IN_PROGRESS,
        )
        for examinee_id in connected
    ]
    return records


def _group_pause_locked(
    *, group: GroupProgress, actor: str, now: datetime, with_plan: bool, reason: str = ""
) -> list[StatusTransition]:
    group_transition_check(current=group.status_code, action=TransitionAction.PAUSE, group_id=group.pk)
    # Deadlines that passed before the pause are carried out first: a pause freezes open clocks only.
    _stage_deadlines_enforce_batches(now=now, group_ids=[group.pk], skip_locked=False)
    records = [
        _group_record(
            group=group,
            action=TransitionAction.PAUSE,
            actor=actor,
            now=now,
            reason=reason,
        )
    ]
    group.status_code = ProgressStatus.PAUSED
    group.paused_at = now
    group.paused_with_plan = with_plan
    group.save(update_fields=["status_code", "paused_at", "paused_with_plan"])
    return records


def _group_resume_locked(
    *, group: GroupProgress, actor: str, now: datetime, reason: str = ""
) -> list[StatusTransition]:
    group_transition_check(current=group.status_code, action=TransitionAction.RESUME, group_id=group.pk)
    pause = max(now - group.paused_at, timedelta(0))
    records = [
        _group_record(
            group=group,
            action=TransitionAction.RESUME,
            actor=actor,
            now=now,
            reason=reason,
        )
    ]
    # Every running deadline moves by the pause's exact length: the remaining time is what it was.
    ExamineeProgress.objects.filter(group_id=group.pk, stage_deadline__isnull=False).update(
        stage_deadline=F("stage_deadline") + pause
    )
    group.status_code = ProgressStatus.IN_PROGRESS
    group.paused_total = group.paused_total + pause
    group.paused_at = None
    group.paused_with_plan = False
    group.save(update_fields=["status_code", "paused_total", "paused_at", "paused_with_plan"])
    return records


def _group_complete_locked(
    *, group: GroupProgress, actor: str, now: datetime, reason: str = ""
) -> list[StatusTransition]:
    group_transition_check(current=group.status_code, action=TransitionAction.COMPLETE, group_id=group.pk)
    records = [
        _group_record(
            group=group,
            action=TransitionAction.COMPLETE,
            actor=actor,
            now=now,
            reason=reason,
        )
    ]
    sitting = list(
        ExamineeProgress.objects.filter(group_id=group.pk, exam_status_code=ExamStatus.IN_PROGRESS)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    examinee_sheet_submit(
        examinee_ids=sitting,
        actor=actor,
        now=now,
        action=TransitionAction.FORCE_SUBMIT,
        reason=reason or "group completed",
    )
    ExamineeProgress.objects.filter(group_id=group.pk, stage_deadline__isnull=False).update(stage_deadline=None)
    if group.paused_at is not None:
        group.paused_total = group.paused_total + max(now - group.paused_at, timedelta(0))
    group.status_code = ProgressStatus.COMPLETED
    group.paused_at = None
    group.paused_with_plan = False
    group.completed_at = now
    group.save(update_fields=["status_code", "paused_total", "paused_at", "paused_with_plan", "completed_at"])
    return records


def _group_locked_with_plan(*, group: TestGroup) -> tuple[TestProgress, GroupProgress]:
    plan_progress = plan_progress_lock(plan_id=group.plan_id)
    locked = group_progress_lock(group_ids=[group.pk])
    if not locked:
        raise CodedError(Msg.EXAM_NOT_FOUND, detail=f"group {group.pk}")
    return plan_progress, locked[0]


@transaction.atomic
def group_start(*, group: TestGroup, actor: str, now: datetime | None = None) -> GroupProgress:
    """Start one READY group of a running plan (e.g. a room that joined late, or a restart of the plan's start).

    Refused unless the plan is IN_PROGRESS.
    """
    actor = _actor_check(actor)
    now = now or timezone.now()
    plan_progress, progress = _group_locked_with_plan(group=group)
    if plan_progress.status_code != ProgressStatus.IN_PROGRESS:
        raise CodedError(Msg.EXAM_ILLEGAL_TRANSITION, detail=f"plan {group.plan_id} is {plan_progress.status_code}")
    records = _group_start_locked(
        group=progress, first_stage=plan_first_stage_get(plan_id=group.plan_id), actor=actor, now=now
    )
    _records_save(records)
    exam_event_publish_on_commit(
        group_ids=[group.pk], event=_state_event(plan_id=group.plan_id, status=ProgressStatus.IN_PROGRESS, now=now)
    )
    return progress


@transaction.atomic
def group_pause(*, group: TestGroup, actor: str, now: datetime | None = None, reason: str = "") -> GroupProgress:
    """Pause one running group: its examinees' clocks freeze and their pages are told to block input."""
    actor = _actor_check(actor)
    now = now or timezone.now()
    _plan_progress, progress = _group_locked_with_plan(group=group)
    records = _group_pause_locked(group=progress, actor=actor, now=now, with_plan=False, reason=reason)
    _records_save(records)
    exam_event_publish_on_commit(
        group_ids=[group.pk], event=_state_event(plan_id=group.plan_id, status=ProgressStatus.PAUSED, now=now)
    )
    return progress


@transaction.atomic
def group_resume(*, group: TestGroup, actor: str, now: datetime | None = None, reason: str = "") -> GroupProgress:
    """Resume a paused group; every clock goes on with exactly the time it had at the pause.

    Refused while the plan itself is paused (resume the plan instead).
    """
    actor = _actor_check(actor)
    now = now or timezone.now()
    plan_progress, progress = _group_locked_with_plan(group=group)
    if plan_progress.status_code == ProgressStatus.PAUSED:
        raise CodedError(Msg.EXAM_ILLEGAL_TRANSITION, detail=f"plan {group.plan_id} is PAUSED; resume the plan")
    records = _group_resume_locked(group=progress, actor=actor, now=now, reason=reason)
    _records_save(records)
    exam_event_publish_on_commit(
        group_ids=[group.pk], event=_state_event(plan_id=group.plan_id, status=ProgressStatus.IN_PROGRESS, now=now)
    )
    return progress


@transaction.atomic
def group_complete(*, group: TestGroup, actor: str, now: datetime | None = None, reason: str = "") -> GroupProgress:
    """Complete a running or paused group; every examinee still sitting has the sheet submitted."""
    actor = _actor_check(actor)
    now = now or timezone.now()
    _plan_progress, progress = _group_locked_with_plan(group=group)
    records = _group_complete_locked(group=progress, actor=actor, now=now, reason=reason)
    _records_save(records)
    exam_event_publish_on_commit(
        group_ids=[group.pk], event=_state_event(plan_id=group.plan_id, status=ProgressStatus.COMPLETED, now=now)
    )
    return progress


@transaction.atomic
def group_stage_advance(*, group: TestGroup, actor: str, now: datetime | None = None) -> int:
    """Move the group's examinees whose stage has closed on to the next stage, starting now.

    This is how a supervisor or operator releases a stage with AUTO_MOVE 'N' (its examinees
    wait when its time runs out). After the last stage the sheets are submitted. Examinees whose
    stage is still open (e.g. with extra time) stay; call again when they are done. Returns how
    many examinees moved or were submitted. Refused unless the group is IN_PROGRESS.
    """
    actor = _actor_check(actor)
    now = now or timezone.now()
    _plan_progress, progress = _group_locked_with_plan(group=group)
    if progress.status_code != ProgressStatus.IN_PROGRESS:
        raise CodedError(Msg.EXAM_ILLEGAL_TRANSITION, detail=f"group {group.pk} is {progress.status_code}")
    # AUTO_MOVE 'Y' deadlines keep their schedule; only the stages that wait start now.
    moved = _stage_deadlines_enforce_batches(now=now, group_ids=[group.pk], skip_locked=False)
    rows = list(
        examinee_progress_lock(
            examinee_ids=ExamineeProgress.objects.filter(
                group_id=group.pk, exam_status_code__in=OPEN_EXAM_STATUSES, stage_deadline__lte=now
            ).values_list("pk", flat=True)
        ).values("pk", "group_id", "plan_id", "current_stage_id", "stage_deadline", "exam_status_code")
    )
    moved += _rows_advance(rows=rows, now=now, actor=actor, start_at_deadline=False)
    if moved:
        exam_event_publish_on_commit(
            group_ids=[group.pk], event=_clock_event(reason=TransitionAction.STAGE_MOVE, now=now)
        )
    return moved


# Stage deadlines ---------------------------------------------------------------------------


def stage_deadlines_enforce(
    *, now: datetime | None = None, group_ids: Sequence[str] | None = None, batch_size: int = SWEEP_BATCH_SIZE
) -> int:
    """Carry out every AUTO_MOVE 'Y' deadline that has passed; returns how many examinees moved.

    Idempotent and stateless: it reads the due rows from the database (an indexed range scan on
    the deadline), locks them with SKIP LOCKED so that overlapping runs share the work instead
    of doing it twice, and commits each batch on its own. Examinees in a paused or completed
    group are not touched: their clock is frozen or over. Connected or not makes no difference.
    """
    now = now or timezone.now()
    return _stage_deadlines_enforce_batches(now=now, group_ids=group_ids, skip_locked=True, batch_size=batch_size)


def examinee_deadlines_enforce(*, examinee_id: str, now: datetime | None = None) -> int:
    """The on-demand check: carry out the due deadlines of this examinee's group now, without
    waiting for the next beat tick (e.g. on a heartbeat whose clock shows a closed AUTO_MOVE 'Y'
    stage, or when beat or the workers are down). Cheap when nothing is due: one indexed read.
    Returns how many examinees moved.
    """
    now = now or timezone.now()
    group_id = (
        ExamineeProgress.objects.filter(
            pk=examinee_id,
            stage_deadline__lte=now,
            exam_status_code__in=OPEN_EXAM_STATUSES,
            current_stage__auto_move_yn=YesNo.YES,
        )
        .values_list("group_id", flat=True)
        .first()
    )
    if group_id is None:
        return 0
    return stage_deadlines_enforce(now=now, group_ids=[group_id])


def _stage_deadlines_enforce_batches(
    *, now: datetime, group_ids: Sequence[str] | None, skip_locked: bool, batch_size: int = SWEEP_BATCH_SIZE
) -> int:
    total = 0
    for _batch in range(SWEEP_MAX_BATCHES):
        with transaction.atomic():
            moved, groups = _stage_deadlines_enforce_batch(
                now=now, group_ids=group_ids, skip_locked=skip_locked, batch_size=batch_size
            )
            if groups:
                exam_event_publish_on_commit(
                    group_ids=groups, event=_clock_event(reason=TransitionAction.STAGE_MOVE, now=now)
                )
        total += moved
        if moved == 0:
            break
    return total


def _stage_deadlines_enforce_batch(
    *, now: datetime, group_ids: Sequence[str] | None, skip_locked: bool, batch_size: int
) -> tuple[int, set[str]]:
    due = ExamineeProgress.objects.filter(
        stage_deadline__lte=now,
        exam_status_code__in=OPEN_EXAM_STATUSES,
        current_stage__auto_move_yn=YesNo.YES,
        group__progress__status_code=ProgressStatus.IN_PROGRESS,
    )
    if group_ids is not None:
        due = due.filter(group_id__in=list(group_ids))
    candidates = list(due.order_by("stage_deadline", "pk").values_list("pk", "group_id")[:batch_size])
    if not candidates:
        return 0, set()
    # Group rows first (lock order), then the examinee rows, re-checked: a pause or another
    # sweep may have committed in between.
    locked_groups = [
        group.pk
        for group in group_progress_lock(group_ids={group_id for _pk, group_id in candidates})
        if group.status_code == ProgressStatus.IN_PROGRESS
    ]
    rows = list(
        ExamineeProgress.objects.select_for_update(of=("self",), skip_locked=skip_locked)
        .filter(
            pk__in=[pk for pk, _group_id in candidates],
            group_id__in=locked_groups,
            stage_deadline__lte=now,
            exam_status_code__in=OPEN_EXAM_STATUSES,
            current_stage__auto_move_yn=YesNo.YES,
        )
        .order_by("pk")
        .values("pk", "group_id", "plan_id", "current_stage_id", "stage_deadline", "exam_status_code")
    )
    moved = _rows_advance(rows=rows, now=now, actor=SYSTEM_TIMER_ACTOR, start_at_deadline=True)
    return moved, {row["group_id"] for row in rows}


def _next_stages(*, plan_ids: Iterable[str]) -> dict[str, TestStage | None]:
    """{stage_id: the stage after it in its plan, or None for the last}."""
    following: dict[str, TestStage | None] = {}
    stages_by_plan: dict[str, list[TestStage]] = defaultdict(list)
    for stage in TestStage.objects.filter(plan_id__in=set(plan_ids)).order_by("plan_id", "stage_order"):
        stages_by_plan[stage.plan_id].append(stage)
    for stages in stages_by_plan.values():
        for index, stage in enumerate(stages):
            following[stage.pk] = stages[index + 1] if index + 1 < len(stages) else None
    return following


def _rows_advance(*, rows: Sequence[dict[str, Any]], now: datetime, actor: str, start_at_deadline: bool) -> int:
    """Move locked examinee rows on from their closed stage; submit after the last stage.

    With `start_at_deadline` the next stage starts at the closed stage's deadline (the
    schedule, for AUTO_MOVE 'Y'); otherwise it starts now (a supervisor's release).
    """
    if not rows:
        return 0
    following = _next_stages(plan_ids={row["plan_id"] for row in rows})
    by_stage: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_stage[row["current_stage_id"]].append(row)
    records: list[StatusTransition] = []
    for stage_id, stage_rows in by_stage.items():
        next_stage = following.get(stage_id)
        ids = [row["pk"] for row in stage_rows]
        if next_stage is not None:
            limit = timedelta(seconds=next_stage.time_limit)
            if start_at_deadline:
                # PostgreSQL evaluates every SET expression on the old row: the start is the old deadline.
                changes = {"stage_started_at": F("stage_deadline"), "stage_deadline": F("stage_deadline") + limit}
            else:
                changes = {"stage_started_at": now, "stage_deadline": now + limit}
            ExamineeProgress.objects.filter(pk__in=ids).update(
                current_stage=next_stage, stage_extra_seconds=0, **changes
            )
            records += [
                _record(
                    subject_type=TransitionSubject.EXAMINEE,
                    subject_id=row["pk"],
                    plan_id=row["plan_id"],
                    group_id=row["group_id"],
                    action=TransitionAction.STAGE_MOVE,
                    actor=actor,
                    now=now,
                    from_value=stage_id,
                    to_value=next_stage.pk,
                    reason=f"deadline {row['stage_deadline'].isoformat()}",
                )
                for row in stage_rows
            ]
            continue
        sitting = [row["pk"] for row in stage_rows if row["exam_status_code"] == ExamStatus.IN_PROGRESS]
        absent = [row["pk"] for row in stage_rows if row["exam_status_code"] == ExamStatus.WAITING]
        examinee_sheet_submit(
            examinee_ids=sitting, actor=actor, now=now, action=TransitionAction.AUTO_SUBMIT, reason="last stage ended"
        )
        # An examinee who never began stays WAITING (absent); the schedule is over for them.
        ExamineeProgress.objects.filter(pk__in=absent).update(stage_deadline=None)
    _records_save(records)
    return len(rows)


# Examinees ---------------------------------------------------------------------------------


def _examinee_locked(*, examinee_id: str) -> tuple[GroupProgress, ExamineeProgress]:
    """Lock the examinee's group row (found and locked in one statement), then the examinee's row
    (plans.lock_objects order)."""
    group = examinee_group_progress_lock(examinee_id=examinee_id)
    if group is None:
        raise CodedError(Msg.EXAM_NOT_FOUND, detail=f"examinee {examinee_id}")
    progress = examinee_progress_lock(examinee_ids=[examinee_id]).select_related("current_stage").get()
    return group, progress


def _examinee_record(
    *, progress: ExamineeProgress, action: str, actor: str, now: datetime, from_value: str, to_value: str, **extra: Any
) -> StatusTransition:
    return _record(
        subject_type=TransitionSubject.EXAMINEE,
        subject_id=progress.pk,
        plan_id=progress.plan_id,
        group_id=progress.group_id,
        action=action,
        actor=actor,
        now=now,
        from_value=from_value,
        to_value=to_value,
        **extra,
    )


def _connection_move(*, progress: ExamineeProgress, action: str, actor: str, now: datetime) -> StatusTransition:
    """CONNECT or DISCONNECT the examinee's row in memory (the transition table's check first) and
    return its audit row; the caller saves the row and moves the group's counter."""
    target = connection_transition_check(current=progress.conn_status_code, action=action, person_id=progress.pk)
    record = _examinee_record(
        progress=progress, action=action, actor=actor, now=now, from_value=progress.conn_status_code, to_value=target
    )
    progress.conn_status_code = target
    return record


def _first_stage(plan_id: str) -> TestStage:
    return plan_first_stage_get(plan_id=plan_id)


BEGIN_FIELDS = ["exam_status_code", "current_stage", "stage_started_at", "stage_deadline", "stage_extra_seconds"]


def _examinee_begin_locked(
    *, group: GroupProgress, progress: ExamineeProgress, actor: str, now: datetime
) -> StatusTransition:
    record = _examinee_begin_apply(group=group, progress=progress, actor=actor, now=now)
    progress.save(update_fields=BEGIN_FIELDS)
    return record


def _examinee_begin_apply(
    *,
    group: GroupProgress,
    progress: ExamineeProgress,
    actor: str,
    now: datetime,
    first_stage_of: Callable[[str], TestStage] = _first_stage,
) -> StatusTransition:
    """WAITING -> IN_PROGRESS on the locked rows in memory (the caller saves the row);
    `first_stage_of(plan_id)` finds the plan's first stage (a caller beginning many may cache it)."""
    examinee_transition_check(current=progress.exam_status_code, action=TransitionAction.BEGIN, examinee_id=progress.pk)
    if group.status_code not in RUNNING_GROUP_STATUSES:
        raise CodedError(Msg.EXAM_NOT_OPEN, detail=f"group {group.pk} is {group.status_code}")
    if progress.stage_started_at is None:
        # Added to the group after it started: this examinee's first stage starts now. In a
        # paused group it counts from the pause, so the resume's shift leaves the whole stage.
        first_stage = first_stage_of(progress.plan_id)
        reference = group.paused_at if group.status_code == ProgressStatus.PAUSED else now
        progress.current_stage = first_stage
        progress.stage_started_at = now
        progress.stage_deadline = reference + timedelta(seconds=first_stage.time_limit)
        progress.stage_extra_seconds = 0
    elif progress.stage_deadline is None:
        raise CodedError(Msg.EXAM_STAGE_CLOSED, detail=f"examinee {progress.pk}: the last stage has ended")
    progress.exam_status_code = ExamStatus.IN_PROGRESS
    return _examinee_record(
        progress=progress,
        action=TransitionAction.BEGIN,
        actor=actor,
        now=now,
        from_value=ExamStatus.WAITING,
        to_value=ExamStatus.IN_PROGRESS,
    )


@transaction.atomic
def examinee_exam_begin(*, examinee_id: str, actor: str | None = None, now: datetime | None = None) -> ExamineeProgress:
    """WAITING -> IN_PROGRESS: the examinee begins the exam in the group's current schedule.

    Refused (EXAM_NOT_OPEN) before the group starts or after it completed, and
    (EXAM_STAGE_CLOSED) once the last stage has ended for them.
    """
    actor = _actor_check(actor or f"examinee:{examinee_id}")
    now = now or timezone.now()
    group, progress = _examinee_locked(examinee_id=examinee_id)
    _records_save([_examinee_begin_locked(group=group, progress=progress, actor=actor, now=now)])
    return progress


@dataclass(frozen=True)
class ExamineeConnection:
    """One examinee's connect (examinees_connect): who, from where, and who did it (default the examinee)."""

    examinee_id: str
    ip_addr: str = ""
    browser_info: str = ""
    actor: str = ""


CONNECT_FIELDS = ["conn_status_code", "ip_addr", "browser_info"]


@transaction.atomic(savepoint=False)
def examinee_connect(
    *,
    examinee_id: str,
    ip_addr: str = "",
    browser_info: str = "",
    actor: str | None = None,
    now: datetime | None = None,
) -> ExamineeProgress:
    """DISCONNECTED -> CONNECTED (CONNECTED_EXAMINEE_CNT + 1), and begin the exam when it runs.

    Idempotent: when the examinee is already connected (a second tab, a reconnect before the
    old socket's close was seen) only IP and browser are updated and nothing is counted twice.
    The socket layer calls `examinee_disconnect` when the examinee's last socket closes.
    A WAITING examinee moves to IN_PROGRESS when the group is running and the schedule has a
    stage open for them; otherwise they just stay WAITING and connected. EXAM_NOT_FOUND for an
    examinee without a progress row.

    No savepoint of its own inside a caller's transaction (the socket's, which records the
    SOCKET_SESSION row first): two round trips fewer, one of them (the release) while the group's
    row is locked, and a refusal rolls the caller's transaction back with it, which is what the
    socket wants.
    """
    one = ExamineeConnection(examinee_id=examinee_id, ip_addr=ip_addr, browser_info=browser_info, actor=actor or "")
    result = examinees_connect(connections=[one], now=now)[examinee_id]
    if isinstance(result, CodedError):
        raise result
    return result


@transaction.atomic(savepoint=False)
def examinees_connect(
    *, connections: Sequence[ExamineeConnection], now: datetime | None = None
) -> dict[str, ExamineeProgress | CodedError]:
    """examinee_connect for several examinees in one transaction, in a fixed number of statements
    whatever their number: the groups locked, the examinees locked, one counter UPDATE per group,
    one UPDATE of the examinees' rows, one INSERT of the transitions. An ASGI process records the
    connects of the same moment together this way (answers.connects), because a herd's connects
    one by one cost it a dozen round trips each.

    Returns each examinee's progress row, or the CodedError that refuses them (EXAM_NOT_FOUND):
    a refused examinee changes nothing, the others are connected. An examinee named twice (two
    tabs at once) is connected and counted once.
    """
    now = now or timezone.now()
    examinee_ids = [wanted.examinee_id for wanted in connections]
    groups = {group.pk: group for group in examinees_group_progress_lock(examinee_ids=examinee_ids)}
    progresses = {
        progress.pk: progress
        for progress in examinee_progress_lock(examinee_ids=examinee_ids).select_related("current_stage")
    }
    results: dict[str, ExamineeProgress | CodedError] = {}
    records: list[StatusTransition] = []
    first_stage_of = functools.cache(_first_stage)  # examinees added after the start begin there
    connected: Counter[str] = Counter()
    began: dict[str, ExamineeProgress] = {}
    for wanted in connections:
        examinee_id = wanted.examinee_id
        progress = progresses.get(examinee_id)
        group = groups.get(progress.group_id) if progress is not None else None
        if progress is None or group is None:
            results[examinee_id] = CodedError(Msg.EXAM_NOT_FOUND, detail=f"examinee {examinee_id}")
            continue
        actor = _actor_check(wanted.actor or f"examinee:{examinee_id}")
        progress.ip_addr = (wanted.ip_addr or "")[:IP_LENGTH]
        progress.browser_info = (wanted.browser_info or "")[:BROWSER_LENGTH]
        if progress.conn_status_code != ConnectionStatus.CONNECTED:
            records.append(_connection_move(progress=progress, action=TransitionAction.CONNECT, actor=actor, now=now))
            connected[group.pk] += 1
        begins = (
            progress.exam_status_code == ExamStatus.WAITING
            and group.status_code in RUNNING_GROUP_STATUSES
            and (progress.stage_started_at is None or progress.stage_deadline is not None)
        )
        if begins:
            records.append(
                _examinee_begin_apply(
                    group=group, progress=progress, actor=actor, now=now, first_stage_of=first_stage_of
                )
            )
            began[examinee_id] = progress
        results[examinee_id] = progress
    for group_id, count in sorted(connected.items()):
        GroupProgress.objects.filter(pk=group_id).update(connected_examinee_cnt=F("connected_examinee_cnt") + count)
    stayed = [row for pk, row in results.items() if pk not in began and not isinstance(row, CodedError)]
    rows_update(list(began.values()), fields=CONNECT_FIELDS + BEGIN_FIELDS)
    rows_update(stayed, fields=CONNECT_FIELDS)
    _records_save(records)
    return results


@transaction.atomic(savepoint=False)
def examinee_disconnect(*, examinee_id: str, actor: str | None = None, now: datetime | None = None) -> ExamineeProgress:
    """CONNECTED -> DISCONNECTED (CONNECTED_EXAMINEE_CNT - 1); idempotent when already disconnected.

    The exam status does not change: the clock runs on and the deadlines apply as to anybody.
    No savepoint of its own inside a caller's transaction, as examinee_connect.
    """
    result = examinees_disconnect(examinee_ids=[examinee_id], actor=actor, now=now)[examinee_id]
    if isinstance(result, CodedError):
        raise result
    return result


@transaction.atomic(savepoint=False)
def examinees_disconnect(
    *,
    examinee_ids: Sequence[str],
    actor: str | None = None,
    now: datetime | None = None,
    still_connected: Callable[[list[str]], set[str]] | None = None,
) -> dict[str, ExamineeProgress | CodedError]:
    """examinee_disconnect for several examinees in one transaction, in a fixed number of statements
    whatever their number (the groups locked, the examinees locked, one counter UPDATE per group,
    one UPDATE of the examinees' rows, one INSERT of the transitions): the sockets of a whole exam
    hall close together when its network drops, and an ASGI process closes them together
    (answers.connects) instead of one transaction each.

    `still_connected`, called once the rows are locked, names the examinees to leave connected
    (those with another open socket: a connect holds the same locks until its socket is recorded,
    so it is either seen by this call or comes after it).

    Returns each examinee's progress row, or EXAM_NOT_FOUND for one without (that one alone).
    """
    now = now or timezone.now()
    groups = {group.pk for group in examinees_group_progress_lock(examinee_ids=examinee_ids)}
    progresses = {progress.pk: progress for progress in examinee_progress_lock(examinee_ids=examinee_ids)}
    staying = still_connected(sorted(progresses)) if still_connected is not None and progresses else set()
    results: dict[str, ExamineeProgress | CodedError] = {}
    records: list[StatusTransition] = []
    moved: list[ExamineeProgress] = []
    disconnected: Counter[str] = Counter()
    for examinee_id in examinee_ids:
        progress = progresses.get(examinee_id)
        if progress is None or progress.group_id not in groups:
            results[examinee_id] = CodedError(Msg.EXAM_NOT_FOUND, detail=f"examinee {examinee_id}")
            continue
        results[examinee_id] = progress
        if progress.conn_status_code == ConnectionStatus.DISCONNECTED or examinee_id in staying:
            continue  # already (or named twice in this call), or still on another socket
        who = _actor_check(actor or f"examinee:{examinee_id}")
        records.append(_connection_move(progress=progress, action=TransitionAction.DISCONNECT, actor=who, now=now))
        moved.append(progress)
        disconnected[progress.group_id] += 1
    for group_id, count in sorted(disconnected.items()):
        GroupProgress.objects.filter(pk=group_id).update(connected_examinee_cnt=F("connected_examinee_cnt") - count)
    rows_update(moved, fields=["conn_status_code"])
    _records_save(records)
    return results


def examinee_sheet_submit(
    *,
    examinee_ids: Sequence[str],
    actor: str,
    now: datetime,
    action: str = TransitionAction.SUBMIT,
    reason: str = "",
) -> int:
    """IN_PROGRESS -> SUBMITTED for each examinee, writing their ANSWER rows; returns how many.

    The one place a sheet is submitted (by the examinee, by an operator's force submit, at the
    end of the last stage, when a group completes). All or nothing: any examinee who is not
    IN_PROGRESS refuses the whole call with EXAM_ILLEGAL_TRANSITION. SUBMITTED_EXAMINEE_CNT moves
    by F() per group. Must run inside a transaction (every caller's is atomic).
    """
    if not examinee_ids:
        return 0
    actor = _actor_check(actor)
    with transaction.atomic():
        rows = list(ExamineeProgress.objects.filter(pk__in=examinee_ids).values_list("group_id", flat=True).distinct())
        group_progress_lock(group_ids=rows)
        locked = list(
            examinee_progress_lock(examinee_ids=examinee_ids).values(
                "pk", "group_id", "plan_id", "exam_status_code", "current_stage_id"
            )
        )
        found = {row["pk"] for row in locked}
        missing = sorted(set(examinee_ids) - found)
        if missing:
            raise CodedError(Msg.EXAM_NOT_FOUND, detail=f"examinee {', '.join(missing[:10])}")
        for row in locked:
            examinee_transition_check(current=row["exam_status_code"], action=action, examinee_id=row["pk"])
        ids = [row["pk"] for row in locked]
        ExamineeProgress.objects.filter(pk__in=ids).update(exam_status_code=ExamStatus.SUBMITTED, stage_deadline=None)
        for group_id, count in sorted(Counter(row["group_id"] for row in locked).items()):
            GroupProgress.objects.filter(pk=group_id).update(submitted_examinee_cnt=F("submitted_examinee_cnt") + count)
        _answer_rows_write(examinee_ids=ids, now=now)
        _records_save(
            [
                _record(
                    subject_type=TransitionSubject.EXAMINEE,
                    subject_id=row["pk"],
                    plan_id=row["plan_id"],
                    group_id=row["group_id"],
                    action=action,
                    actor=actor,
                    now=now,
                    from_value=row["exam_status_code"],
                    to_value=ExamStatus.SUBMITTED,
                    reason=reason,
                )
                for row in locked
            ]
        )
        return len(ids)


def _answer_rows_write(*, examinee_ids: Sequence[str], now: datetime) -> None:
    """Write ANSWER (2.6) from the committed answers of ANSWER_DATA, one statement per 500 examinees.

    Answers acknowledged in Redis but not flushed yet at this moment join ANSWER when the flush
    writes them (answers.services.flush refreshes ANSWER of submitted examinees); an examinee's
    own submit writes the union of cache and database (answers.services.submit). ON CONFLICT
    refreshes the content, so running it again is safe. Plain IN lists keep it portable to the
    SQLite of `make run`.
    """
    from answers.models import Answer, AnswerData

    answer = Answer._meta.db_table
    data = AnswerData._meta.db_table
    submitted_at = connection.ops.adapt_datetimefield_value(now)
    ids = list(examinee_ids)
    # Table names come from the models, values are parameters.
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            placeholders = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"""
                INSERT INTO "{answer}" (examinee_id, group_id, plan_id, question_id, answer_content, submit_datetime)
                SELECT examinee_id, group_id, plan_id, question_id, answer_value, %s
                FROM "{data}" WHERE examinee_id IN ({placeholders})
                ON CONFLICT (examinee_id, question_id) DO UPDATE SET answer_content = EXCLUDED.answer_content
                """,
                [submitted_at, *chunk],
            )


def _examinee_finish(*, examinee_id: str, action: str, actor: str, now: datetime, reason: str) -> ExamineeProgress:
    """End one examinee's sitting by `action` (a submit of any kind, or GIVE_UP)."""
    actor = _actor_check(actor)
    group, progress = _examinee_locked(examinee_id=examinee_id)
    target = examinee_transition_check(current=progress.exam_status_code, action=action, examinee_id=examinee_id)
    if target == ExamStatus.SUBMITTED:
        examinee_sheet_submit(examinee_ids=[examinee_id], actor=actor, now=now, action=action, reason=reason)
    else:
        record = _examinee_record(
            progress=progress,
            action=action,
            actor=actor,
            now=now,
            from_value=progress.exam_status_code,
            to_value=target,
            reason=reason,
        )
        ExamineeProgress.objects.filter(pk=examinee_id).update(exam_status_code=target, stage_deadline=None)
        _records_save([record])
    progress.refresh_from_db()
    exam_event_publish_on_commit(
        group_ids=[group.pk], event=_clock_event(reason=action, now=now, examinee_id=examinee_id)
    )
    return progress


@transaction.atomic
def examinee_submit(*, examinee_id: str, actor: str | None = None, now: datetime | None = None) -> ExamineeProgress:
    """The examinee hands in the sheet before the end: IN_PROGRESS -> SUBMITTED, ANSWER rows written."""
    return _examinee_finish(
        examinee_id=examinee_id,
        action=TransitionAction.SUBMIT,
        actor=actor or f"examinee:{examinee_id}",
        now=now or timezone.now(),
        reason="",
    )


@transaction.atomic
def examinee_force_submit(
    *, examinee_id: str, actor: str, reason: str = "", now: datetime | None = None
) -> ExamineeProgress:
    """An operator or supervisor submits one examinee's sheet now, recorded with who and why."""
    return _examinee_finish(
        examinee_id=examinee_id,
        action=TransitionAction.FORCE_SUBMIT,
        actor=actor,
        now=now or timezone.now(),
        reason=reason,
    )


@transaction.atomic
def examinee_give_up(
    *, examinee_id: str, actor: str | None = None, reason: str = "", now: datetime | None = None
) -> ExamineeProgress:
    """IN_PROGRESS -> GIVE_UP (중도포기): the sitting ends without a submitted sheet."""
    return _examinee_finish(
        examinee_id=examinee_id,
        action=TransitionAction.GIVE_UP,
        actor=actor or f"examinee:{examinee_id}",
        now=now or timezone.now(),
        reason=reason,
    )


@transaction.atomic
def examinee_time_extend(
    *, examinee_id: str, seconds: int, actor: str, reason: str = "", now: datetime | None = None
) -> ExamineeProgress:
    """Give one examinee extra time in the current stage: only their deadline moves.

    `seconds` is a whole number from 1 to 86,400. Refused (EXAM_EXTENSION_INVALID) outside that
    range or when the examinee has no open stage (not begun, finished, or the stage has closed);
    the extra time of a paused group counts from the resume like the rest of the clock.
    """
    actor = _actor_check(actor)
    now = now or timezone.now()
    if type(seconds) is not int or not 1 <= seconds <= MAX_EXTENSION_SECONDS:
        raise CodedError(Msg.EXAM_EXTENSION_INVALID, detail=f"seconds={seconds!r}")
    group, progress = _examinee_locked(examinee_id=examinee_id)
    reference = group.paused_at if group.status_code == ProgressStatus.PAUSED else now
    stage_open = (
        progress.exam_status_code in OPEN_EXAM_STATUSES
        and group.status_code in RUNNING_GROUP_STATUSES
        and progress.stage_deadline is not None
        and progress.stage_deadline > reference
    )
    if not stage_open:
        raise CodedError(Msg.EXAM_EXTENSION_INVALID, detail=f"examinee {examinee_id} has no open stage")
    ExamineeProgress.objects.filter(pk=examinee_id).update(
        stage_deadline=F("stage_deadline") + timedelta(seconds=seconds),
        stage_extra_seconds=F("stage_extra_seconds") + seconds,
    )
    _records_save(
        [
            _examinee_record(
                progress=progress,
                action=TransitionAction.EXTEND,
                actor=actor,
                now=now,
                from_value=progress.current_stage_id,
                to_value=progress.current_stage_id,
                seconds=seconds,
                reason=reason,
            )
        ]
    )
    progress.refresh_from_db()
    exam_event_publish_on_commit(
        group_ids=[group.pk], event=_clock_event(reason=TransitionAction.EXTEND, now=now, examinee_id=examinee_id)
    )
    return progress


# Supervisors -------------------------------------------------------------------------------


def _supervisor_connection_set(
    *, supervisor_id: str, action: str, ip_addr: str, browser_info: str, actor: str | None, now: datetime | None
) -> SupervisorProgress:
    actor = _actor_check(actor or f"supervisor:{supervisor_id}")
    now = now or timezone.now()
    group_id = SupervisorProgress.objects.filter(pk=supervisor_id).values_list("group_id", flat=True).first()
    if group_id is None:
        raise CodedError(Msg.EXAM_NOT_FOUND, detail=f"supervisor {supervisor_id}")
    group_progress_lock(group_ids=[group_id])
    progress = supervisor_progress_lock(supervisor_id=supervisor_id)
    if action == TransitionAction.CONNECT:
        progress.ip_addr = (ip_addr or "")[:IP_LENGTH]
        progress.browser_info = (browser_info or "")[:BROWSER_LENGTH]
    if progress.conn_status_code == CONNECTION_TRANSITIONS[action].target:
        # Idempotent: a second socket or a repeated close changes no counter.
        progress.save(update_fields=["ip_addr", "browser_info"])
        return progress
    target = connection_transition_check(current=progress.conn_status_code, action=action, person_id=supervisor_id)
    record = _record(
        subject_type=TransitionSubject.SUPERVISOR,
        subject_id=supervisor_id,
        plan_id=progress.plan_id,
        group_id=progress.group_id,
        action=action,
        actor=actor,
        now=now,
        from_value=progress.conn_status_code,
        to_value=target,
    )
    progress.conn_status_code = target
    progress.save(update_fields=["conn_status_code", "ip_addr", "browser_info"])
    step = 1 if target == ConnectionStatus.CONNECTED else -1
    GroupProgress.objects.filter(pk=group_id).update(connected_supervisor_cnt=F("connected_supervisor_cnt") + step)
    _records_save([record])
    return progress


@transaction.atomic
def supervisor_connect(
    *,
    supervisor_id: str,
    ip_addr: str = "",
    browser_info: str = "",
    actor: str | None = None,
    now: datetime | None = None,
) -> SupervisorProgress:
    """DISCONNECTED -> CONNECTED for a supervisor (CONNECTED_SUPERVISOR_CNT + 1); idempotent."""
    return _supervisor_connection_set(
        supervisor_id=supervisor_id,
        action=TransitionAction.CONNECT,
        ip_addr=ip_addr,
        browser_info=browser_info,
        actor=actor,
        now=now,
    )


@transaction.atomic
def supervisor_disconnect(
    *, supervisor_id: str, actor: str | None = None, now: datetime | None = None
) -> SupervisorProgress:
    """CONNECTED -> DISCONNECTED for a supervisor (CONNECTED_SUPERVISOR_CNT - 1); idempotent."""
    return _supervisor_connection_set(
        supervisor_id=supervisor_id,
        action=TransitionAction.DISCONNECT,
        ip_addr="",
        browser_info="",
        actor=actor,
        now=now,
    )


# Reconciliation ----------------------------------------------------------------------------


def group_progress_reconcile(*, batch_size: int = RECONCILE_BATCH_SIZE) -> int:
    """Recount GROUP_PROGRESS of every group not completed, in batches of `batch_size` groups
    (each its own transaction); returns how many groups had drifted.

    The counters are kept by the transitions; this periodic pass corrects what a crash between
    two writes, an admin delete or a bug may have left behind.
    """
    group_ids = list(
        GroupProgress.objects.exclude(status_code=ProgressStatus.COMPLETED).order_by("pk").values_list("pk", flat=True)
    )
    drifted = 0
    for start in range(0, len(group_ids), batch_size):
        drifted += group_progress_recount(group_ids=group_ids[start : start + batch_size])
    if drifted:
        logger.warning("GROUP_PROGRESS: %d group(s) had drifted and were recounted", drifted)
    return drifted
