"""Stage deadlines (plans.services.lifecycle.stage_deadlines_enforce and group_stage_advance): AUTO_MOVE
'Y' moves everybody still in the stage at its deadline, 'N' waits for a supervisor, the last stage
submits; pauses freeze; and the doorbell rings on the real channel layer after the commit."""

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from answers.models import Answer, AnswerData
from monitoring.messages import CodedError, Msg
from plans.choices import ConnectionStatus, ExamStatus, TransitionAction
from plans.models import ExamineeProgress, GroupProgress, StatusTransition
from plans.services.clock import examinee_clock_get
from plans.services.lifecycle import (
    SYSTEM_TIMER_ACTOR,
    exam_group_channel_name,
    examinee_connect,
    examinee_disconnect,
    group_pause,
    group_resume,
    group_stage_advance,
    plan_start,
    stage_deadlines_enforce,
)
from tests.plans import factories

OPERATOR = "operator1"


@pytest.fixture
def t0():
    return timezone.now().replace(microsecond=0) - timedelta(hours=3)


@pytest.fixture
def second_stage(plan, stage):
    """A second stage of 1,800 s after the fixture's first (3,600 s, AUTO_MOVE 'Y')."""
    factories.QuestionFactory(paper=(paper := factories.QuestionPaperFactory()))
    return factories.TestStageFactory(plan=plan, stage_order=2, time_limit=1800, test_code=paper)


@pytest.fixture
def room(plan, stage, second_stage, group, make_examinees, t0):
    """Three examinees: one connected and sitting, one who sat and lost the connection, one absent."""
    connected, disconnected, absent = make_examinees(3)
    plan_start(plan=plan, actor=OPERATOR, now=t0)
    examinee_connect(examinee_id=connected.pk, now=t0)
    examinee_connect(examinee_id=disconnected.pk, now=t0)
    examinee_disconnect(examinee_id=disconnected.pk, now=t0 + timedelta(minutes=30))
    return connected, disconnected, absent


def rows(*examinees):
    found = ExamineeProgress.objects.in_bulk([e.pk for e in examinees])
    return [
        (
            found[e.pk].exam_status_code,
            found[e.pk].conn_status_code,
            found[e.pk].current_stage_id,
            found[e.pk].stage_started_at,
            found[e.pk].stage_deadline,
        )
        for e in examinees
    ]


def test_nothing_moves_before_the_deadline(room, stage, t0):
    """One microsecond before the deadline the sweep moves nobody."""
    # given
    deadline = t0 + timedelta(seconds=3600)
    before = rows(*room)
    # when
    moved = stage_deadlines_enforce(now=deadline - timedelta(microseconds=1))
    # then
    assert moved == 0
    assert rows(*room) == before
    assert not StatusTransition.objects.filter(action=TransitionAction.STAGE_MOVE).exists()


def test_auto_move_moves_connected_disconnected_and_absent_examinees_at_the_deadline(room, stage, second_stage, t0):
    """AUTO_MOVE 'Y': everybody still in the stage moves at its deadline; the next stage starts at that deadline."""
    # given
    connected, disconnected, absent = room
    deadline = t0 + timedelta(seconds=3600)
    # when
    moved = stage_deadlines_enforce(now=deadline + timedelta(milliseconds=300))
    # then
    assert moved == 3
    next_deadline = deadline + timedelta(seconds=1800)
    assert rows(connected, disconnected, absent) == [
        (ExamStatus.IN_PROGRESS, ConnectionStatus.CONNECTED, second_stage.pk, deadline, next_deadline),
        (ExamStatus.IN_PROGRESS, ConnectionStatus.DISCONNECTED, second_stage.pk, deadline, next_deadline),
        (ExamStatus.WAITING, ConnectionStatus.DISCONNECTED, second_stage.pk, deadline, next_deadline),
    ]
    assert sorted(
        StatusTransition.objects.filter(action=TransitionAction.STAGE_MOVE).values_list(
            "subject_id", "from_value", "to_value", "actor"
        )
    ) == sorted((e.pk, stage.pk, second_stage.pk, SYSTEM_TIMER_ACTOR) for e in room)


def test_the_sweep_is_idempotent(room, t0):
    """A second sweep at the same moment finds nothing left to do."""
    # given
    deadline = t0 + timedelta(seconds=3600)
    stage_deadlines_enforce(now=deadline)
    after_first = rows(*room)
    # when
    moved = stage_deadlines_enforce(now=deadline)
    # then
    assert moved == 0
    assert rows(*room) == after_first
    assert StatusTransition.objects.filter(action=TransitionAction.STAGE_MOVE).count() == 3


def test_a_late_sweep_keeps_the_schedule_and_submits_after_the_last_stage(room, plan, group, second_stage, t0):
    """A sweep that comes after both deadlines moves and then submits, with every time taken from the schedule."""
    # given
    connected, disconnected, absent = room
    question = second_stage.test_code.questions.get()
    AnswerData.objects.create(
        examinee=connected,
        group=group,
        plan=plan,
        exam_id=plan.pk,
        user_id=connected.pk,
        question=question,
        answer_type=question.question_type,
        answer_value="3",
        last_modified=t0,
        version=2,
    )
    late = t0 + timedelta(seconds=3600 + 1800 + 120)
    # when
    moved = stage_deadlines_enforce(now=late)
    # then
    assert moved == 6
    assert rows(connected, disconnected, absent) == [
        (ExamStatus.SUBMITTED, ConnectionStatus.CONNECTED, second_stage.pk, t0 + timedelta(seconds=3600), None),
        (ExamStatus.SUBMITTED, ConnectionStatus.DISCONNECTED, second_stage.pk, t0 + timedelta(seconds=3600), None),
        (ExamStatus.WAITING, ConnectionStatus.DISCONNECTED, second_stage.pk, t0 + timedelta(seconds=3600), None),
    ]
    assert list(Answer.objects.values_list("examinee_id", "question_id", "answer_content", "submit_datetime")) == [
        (connected.pk, question.pk, "3", late)
    ]
    assert GroupProgress.objects.get(pk=group.pk).submitted_examinee_cnt == 2
    assert sorted(
        StatusTransition.objects.filter(action=TransitionAction.AUTO_SUBMIT).values_list("subject_id", "actor")
    ) == [(connected.pk, SYSTEM_TIMER_ACTOR), (disconnected.pk, SYSTEM_TIMER_ACTOR)]


def test_a_paused_group_is_not_swept(room, group, t0):
    """The clock of a paused group stands: its deadline passing on the wall clock moves nobody."""
    # given
    group_pause(group=group, actor=OPERATOR, now=t0 + timedelta(seconds=3000))
    before = rows(*room)
    # when
    moved = stage_deadlines_enforce(now=t0 + timedelta(seconds=4000))
    # then
    assert moved == 0
    assert rows(*room) == before


def test_a_pause_carries_out_a_deadline_that_passed_first(room, group, second_stage, t0):
    """Pausing after an unswept deadline moves those examinees first, so the pause freezes the new stage."""
    # given
    deadline = t0 + timedelta(seconds=3600)
    # when
    group_pause(group=group, actor=OPERATOR, now=deadline + timedelta(seconds=10))
    group_resume(group=group, actor=OPERATOR, now=deadline + timedelta(seconds=70))
    # then
    connected = room[0]
    clock = examinee_clock_get(connected.pk, now=deadline + timedelta(seconds=70))
    assert (clock.stage_id, clock.remaining_seconds) == (second_stage.pk, 1800 - 10)


def test_auto_move_no_waits_for_the_supervisor(plan, stage, second_stage, group, make_examinees, t0):
    """AUTO_MOVE 'N': at the deadline the stage closes and the examinees wait; the release starts the next stage now."""
    # given
    stage.auto_move_yn = "N"
    stage.save()
    (examinee,) = make_examinees(1)
    plan_start(plan=plan, actor=OPERATOR, now=t0)
    examinee_connect(examinee_id=examinee.pk, now=t0)
    deadline = t0 + timedelta(seconds=3600)
    # when
    swept = stage_deadlines_enforce(now=deadline + timedelta(minutes=3))
    waiting = examinee_clock_get(examinee.pk, now=deadline + timedelta(minutes=3))
    released_at = deadline + timedelta(minutes=4)
    advanced = group_stage_advance(group=group, actor="sup1", now=released_at)
    # then
    assert swept == 0
    assert (waiting.stage_id, waiting.open, waiting.remaining_seconds) == (stage.pk, False, 0)
    assert advanced == 1
    assert rows(examinee) == [
        (
            ExamStatus.IN_PROGRESS,
            ConnectionStatus.CONNECTED,
            second_stage.pk,
            released_at,
            released_at + timedelta(seconds=1800),
        )
    ]
    move = StatusTransition.objects.get(action=TransitionAction.STAGE_MOVE)
    assert (move.subject_id, move.actor, move.from_value, move.to_value) == (
        examinee.pk,
        "sup1",
        stage.pk,
        second_stage.pk,
    )


def test_group_stage_advance_leaves_open_clocks_alone(room, group, stage, t0):
    """Before the deadline the release moves nobody."""
    # given
    before = rows(*room)
    # when
    advanced = group_stage_advance(group=group, actor="sup1", now=t0 + timedelta(seconds=100))
    # then
    assert advanced == 0
    assert rows(*room) == before


def test_group_stage_advance_is_refused_while_paused(room, group, t0):
    """A paused group cannot be moved on; nothing changes."""
    # given
    group_pause(group=group, actor=OPERATOR, now=t0 + timedelta(seconds=100))
    before = rows(*room)
    # when
    with pytest.raises(CodedError) as error:
        group_stage_advance(group=group, actor="sup1", now=t0 + timedelta(seconds=5000))
    # then
    assert error.value.message is Msg.EXAM_ILLEGAL_TRANSITION
    assert rows(*room) == before


def test_a_deadline_sweep_of_many_examinees_uses_batches(plan, stage, second_stage, group, make_examinees, t0):
    """250 examinees with a batch size of 100 are all moved in one call."""
    # given
    make_examinees(250)
    plan_start(plan=plan, actor=OPERATOR, now=t0)
    # when
    moved = stage_deadlines_enforce(now=t0 + timedelta(seconds=3600), batch_size=100)
    # then
    assert moved == 250
    assert set(ExamineeProgress.objects.values_list("current_stage_id", flat=True)) == {second_stage.pk}


def test_pause_rings_the_groups_doorbell_after_commit(
    room, plan, group, t0, redis_conn, django_capture_on_commit_callbacks
):
    """The pause reaches a page subscribed to the group's channel group, once, after the commit."""
    # given
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(exam_group_channel_name(group.pk), channel)
    paused_at = t0 + timedelta(seconds=100)
    # when
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        group_pause(group=group, actor=OPERATOR, now=paused_at)
    message = async_to_sync(layer.receive)(channel)
    # then
    assert len(callbacks) == 1
    assert message == {
        "type": "exam.state",
        "plan_id": plan.pk,
        "group_id": group.pk,
        "status": "PAUSED",
        "code": Msg.EXAM_PAUSED.code,
        "server_time": paused_at.isoformat(),
    }


def test_a_refused_pause_rings_nothing(plan, stage, group, django_capture_on_commit_callbacks):
    """A refused transition schedules no doorbell."""
    # given / when
    with django_capture_on_commit_callbacks(execute=False) as callbacks, pytest.raises(CodedError):
        group_pause(group=group, actor=OPERATOR)
    # then
    assert callbacks == []


def test_channel_names_are_valid_for_any_group_id():
    """IDs with characters a channel group name cannot hold get a hashed, stable name."""
    # given / when
    plain = exam_group_channel_name("GROUP-01_a.b")
    korean = exam_group_channel_name("제1고사실")
    # then
    assert plain == "exam.group.GROUP-01_a.b"
    assert korean == exam_group_channel_name("제1고사실")
    assert korean.startswith("exam.group.h") and korean.isascii() and len(korean) < 100
