"""The server-owned clock (plans.services.clock): remaining time from the recorded start, pauses and
extra time; the write window the answer path asks before accepting a write."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.messages import CodedError, Msg
from plans.choices import TransitionAction
from plans.models import ExamineeProgress, StatusTransition
from plans.services.clock import examinee_clock_get, examinee_write_window_check
from plans.services.lifecycle import (
    examinee_connect,
    examinee_exam_begin,
    examinee_submit,
    examinee_time_extend,
    group_pause,
    group_resume,
    plan_pause,
    plan_resume,
    plan_start,
    stage_deadlines_enforce,
)
from tests.plans import factories

OPERATOR = "operator1"


@pytest.fixture
def t0():
    """A whole second in the past, so that every `now` passed to the services is controlled."""
    return timezone.now().replace(microsecond=0) - timedelta(hours=2)


@pytest.fixture
def sitting(plan, stage, group, examinee, t0):
    """The plan started at t0 with one examinee connected and sitting the first stage (3,600 s)."""
    plan_start(plan=plan, actor=OPERATOR, now=t0)
    examinee_connect(examinee_id=examinee.pk, now=t0)
    return examinee


def test_clock_counts_down_from_the_stage_start(sitting, stage, t0):
    """Remaining time is TIME_LIMIT minus the time since the stage started, rounded up."""
    # given
    now = t0 + timedelta(seconds=100, milliseconds=400)
    # when
    clock = examinee_clock_get(sitting.pk, now=now)
    # then
    assert (clock.stage_id, clock.remaining_seconds, clock.remaining_ms) == (stage.pk, 3500, 3_499_600)
    assert (clock.deadline, clock.paused, clock.open) == (t0 + timedelta(seconds=3600), False, True)
    assert clock.as_message()["remainingSeconds"] == 3500


def test_clock_of_a_waiting_examinee_is_not_open(plan, stage, group, make_examinees, t0):
    """An examinee who has not begun sees the stage's time but cannot write."""
    # given
    (waiting,) = make_examinees(1)
    plan_start(plan=plan, actor=OPERATOR, now=t0)
    # when
    clock = examinee_clock_get(waiting.pk, now=t0 + timedelta(seconds=60))
    # then
    assert (clock.exam_status, clock.remaining_seconds, clock.open) == ("WAITING", 3540, False)


@pytest.mark.parametrize("level", ["group", "plan"])
def test_pause_and_resume_keep_the_remaining_time_exact(sitting, plan, group, t0, level):
    """A pause freezes the clock; after the resume the remaining time is what it was at the pause."""
    # given
    pause, resume = (group_pause, group_resume) if level == "group" else (plan_pause, plan_resume)
    subject = {"group": group} if level == "group" else {"plan": plan}
    paused_at = t0 + timedelta(seconds=100, microseconds=250_000)
    resumed_at = t0 + timedelta(seconds=1000, microseconds=750_000)
    pause(**subject, actor=OPERATOR, now=paused_at)
    # when
    while_paused = examinee_clock_get(sitting.pk, now=t0 + timedelta(seconds=700))
    resume(**subject, actor=OPERATOR, now=resumed_at)
    after = examinee_clock_get(sitting.pk, now=resumed_at)
    later = examinee_clock_get(sitting.pk, now=resumed_at + timedelta(seconds=1))
    # then
    assert (while_paused.paused, while_paused.open, while_paused.deadline) == (True, False, None)
    assert while_paused.remaining_ms == 3_499_750
    assert (after.paused, after.open, after.remaining_ms) == (False, True, 3_499_750)
    assert later.remaining_ms == 3_498_750
    assert after.deadline == t0 + timedelta(seconds=3600) + (resumed_at - paused_at)


def test_two_pauses_add_up_exactly(sitting, group, t0):
    """Each pause's length is added to the deadline; the clock has lost nothing after two pauses."""
    # given
    group_pause(group=group, actor=OPERATOR, now=t0 + timedelta(seconds=10))
    group_resume(group=group, actor=OPERATOR, now=t0 + timedelta(seconds=70))
    group_pause(group=group, actor=OPERATOR, now=t0 + timedelta(seconds=100))
    group_resume(group=group, actor=OPERATOR, now=t0 + timedelta(seconds=400))
    # when
    clock = examinee_clock_get(sitting.pk, now=t0 + timedelta(seconds=400))
    # then
    assert clock.remaining_seconds == 3600 - 10 - 30
    assert ExamineeProgress.objects.get(pk=sitting.pk).stage_deadline == t0 + timedelta(seconds=3600 + 60 + 300)


def test_extra_time_moves_only_that_examinees_deadline(plan, stage, group, make_examinees, t0):
    """Extra time for one examinee moves their deadline; the neighbour's stays; who and why are recorded."""
    # given
    helped, neighbour = make_examinees(2)
    plan_start(plan=plan, actor=OPERATOR, now=t0)
    for examinee in (helped, neighbour):
        examinee_exam_begin(examinee_id=examinee.pk, now=t0)
    # when
    examinee_time_extend(
        examinee_id=helped.pk, seconds=600, actor="sup1", reason="시각장애 편의", now=t0 + timedelta(minutes=5)
    )
    # then
    now = t0 + timedelta(minutes=10)
    assert examinee_clock_get(helped.pk, now=now).remaining_seconds == 3600 + 600 - 600
    assert examinee_clock_get(helped.pk, now=now).extra_seconds == 600
    assert examinee_clock_get(neighbour.pk, now=now).remaining_seconds == 3600 - 600
    assert dict(ExamineeProgress.objects.values_list("pk", "stage_deadline")) == {
        helped.pk: t0 + timedelta(seconds=4200),
        neighbour.pk: t0 + timedelta(seconds=3600),
    }
    record = StatusTransition.objects.get(action=TransitionAction.EXTEND)
    assert (record.subject_id, record.seconds, record.actor, record.reason) == (helped.pk, 600, "sup1", "시각장애 편의")


def test_extra_time_during_a_pause_shows_in_the_frozen_clock(sitting, group, t0):
    """Extra time given while paused is added to the frozen remaining time."""
    # given
    group_pause(group=group, actor=OPERATOR, now=t0 + timedelta(seconds=100))
    # when
    examinee_time_extend(examinee_id=sitting.pk, seconds=60, actor=OPERATOR, now=t0 + timedelta(seconds=200))
    # then
    assert examinee_clock_get(sitting.pk, now=t0 + timedelta(seconds=300)).remaining_seconds == 3500 + 60


@pytest.mark.parametrize("seconds", [0, -5, 86_401, "60", 1.5, True, None])
def test_extra_time_out_of_range_is_refused(sitting, seconds, t0):
    """Extra time must be a whole number of seconds from 1 to 86,400; nothing changes otherwise."""
    # given
    before = ExamineeProgress.objects.get(pk=sitting.pk)
    # when
    with pytest.raises(CodedError) as error:
        examinee_time_extend(examinee_id=sitting.pk, seconds=seconds, actor=OPERATOR, now=t0)
    # then
    assert error.value.message is Msg.EXAM_EXTENSION_INVALID
    after = ExamineeProgress.objects.get(pk=sitting.pk)
    assert (after.stage_deadline, after.stage_extra_seconds) == (before.stage_deadline, 0)
    assert not StatusTransition.objects.filter(action=TransitionAction.EXTEND).exists()


def test_extra_time_for_a_finished_sitting_is_refused(sitting, t0):
    """A submitted examinee has no open stage to extend."""
    # given
    examinee_submit(examinee_id=sitting.pk, now=t0 + timedelta(minutes=1))
    # when
    with pytest.raises(CodedError) as error:
        examinee_time_extend(examinee_id=sitting.pk, seconds=60, actor=OPERATOR, now=t0 + timedelta(minutes=2))
    # then
    assert error.value.message is Msg.EXAM_EXTENSION_INVALID
    assert ExamineeProgress.objects.get(pk=sitting.pk).stage_deadline is None


def test_write_window_is_open_with_one_query(sitting, stage, t0, django_assert_num_queries):
    """An open stage accepts the write; the check costs one query."""
    # given
    now = t0 + timedelta(seconds=10)
    # when / then
    with django_assert_num_queries(1):
        assert examinee_write_window_check(sitting.pk, stage.pk, now=now) is None


def refusal(examinee_id, stage_id, **kwargs):
    with pytest.raises(CodedError) as error:
        examinee_write_window_check(examinee_id, stage_id, **kwargs)
    return error.value.message


def test_write_window_refuses_a_closed_stage_from_its_deadline_on(sitting, stage, t0):
    """At and after the deadline the stage refuses writes, even before the sweep has moved anybody."""
    # given
    deadline = t0 + timedelta(seconds=3600)
    # when / then
    assert examinee_write_window_check(sitting.pk, stage.pk, now=deadline - timedelta(milliseconds=1)) is None
    assert refusal(sitting.pk, stage.pk, now=deadline) is Msg.EXAM_STAGE_CLOSED
    assert refusal(sitting.pk, stage.pk, now=deadline + timedelta(minutes=5)) is Msg.EXAM_STAGE_CLOSED
    assert examinee_write_window_check(sitting.pk, stage.pk, now=deadline, grace_seconds=2) is None
    assert refusal(sitting.pk, stage.pk, now=deadline + timedelta(seconds=2), grace_seconds=2) is Msg.EXAM_STAGE_CLOSED


def test_write_window_refuses_the_previous_stage_after_a_move(plan, stage, group, sitting, t0):
    """After the auto-move the closed stage refuses writes and the next stage accepts them."""
    # given
    second = factories.TestStageFactory(plan=plan, stage_order=2, time_limit=1800)
    deadline = t0 + timedelta(seconds=3600)
    stage_deadlines_enforce(now=deadline)
    # when / then
    assert refusal(sitting.pk, stage.pk, now=deadline + timedelta(seconds=1)) is Msg.EXAM_STAGE_CLOSED
    assert examinee_write_window_check(sitting.pk, second.pk, now=deadline + timedelta(seconds=1)) is None


def test_write_window_refuses_a_later_stage_and_a_foreign_one(plan, stage, group, sitting, t0):
    """A stage that has not started, or one of another plan, is not open."""
    # given
    later = factories.TestStageFactory(plan=plan, stage_order=2)
    foreign = factories.TestStageFactory()
    # when / then
    assert refusal(sitting.pk, later.pk, now=t0) is Msg.EXAM_NOT_OPEN
    assert refusal(sitting.pk, foreign.pk, now=t0) is Msg.EXAM_NOT_OPEN
    assert refusal(sitting.pk, "NO-SUCH-STAGE", now=t0) is Msg.EXAM_NOT_OPEN


def test_write_window_refuses_while_paused(sitting, stage, group, t0):
    """A paused group refuses writes with EXAM_PAUSED, and accepts them again after the resume."""
    # given
    group_pause(group=group, actor=OPERATOR, now=t0 + timedelta(seconds=10))
    # when / then
    assert refusal(sitting.pk, stage.pk, now=t0 + timedelta(seconds=20)) is Msg.EXAM_PAUSED
    group_resume(group=group, actor=OPERATOR, now=t0 + timedelta(seconds=30))
    assert examinee_write_window_check(sitting.pk, stage.pk, now=t0 + timedelta(seconds=31)) is None


def test_write_window_refuses_a_submitted_sheet(sitting, stage, t0):
    """After the submit every write is refused with EXAM_ALREADY_SUBMITTED."""
    # given
    examinee_submit(examinee_id=sitting.pk, now=t0 + timedelta(seconds=5))
    # when / then
    assert refusal(sitting.pk, stage.pk, now=t0 + timedelta(seconds=6)) is Msg.EXAM_ALREADY_SUBMITTED


def test_write_window_refuses_before_the_start(plan, stage, group, examinee):
    """Before the group starts nothing is open; an unknown examinee is not found."""
    # given / when / then
    assert refusal(examinee.pk, stage.pk) is Msg.EXAM_NOT_OPEN
    assert refusal("NOBODY", stage.pk) is Msg.EXAM_NOT_FOUND


def test_clock_of_an_unknown_examinee_is_refused(db):
    """The clock of an examinee who does not exist is EXAM_NOT_FOUND."""
    # given / when
    with pytest.raises(CodedError) as error:
        examinee_clock_get("NOBODY")
    # then
    assert error.value.message is Msg.EXAM_NOT_FOUND


def test_examinee_added_during_a_pause_gets_the_whole_stage_after_the_resume(plan, stage, group, make_examinees, t0):
    """A late examinee who begins while the group is paused has the full TIME_LIMIT when it resumes."""
    # given
    plan_start(plan=plan, actor=OPERATOR, now=t0)
    group_pause(group=group, actor=OPERATOR, now=t0 + timedelta(seconds=100))
    (late,) = make_examinees(1, prefix="LATE")
    examinee_connect(examinee_id=late.pk, now=t0 + timedelta(seconds=200))
    # when
    group_resume(group=group, actor=OPERATOR, now=t0 + timedelta(seconds=400))
    # then
    assert examinee_clock_get(late.pk, now=t0 + timedelta(seconds=400)).remaining_seconds == stage.time_limit
