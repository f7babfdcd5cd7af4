"""The state machines of plans, groups and examinees (plans.services.lifecycle): legal transitions
are recorded with who, when, from and to; illegal ones are refused and change nothing."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from answers.models import Answer, AnswerData
from monitoring.messages import CodedError, Msg
from plans.choices import ConnectionStatus, ExamStatus, ProgressStatus, TransitionAction, TransitionSubject
from plans.models import ExamineeProgress, GroupProgress, StatusTransition, TestProgress
from plans.services.lifecycle import (
    ExamineeConnection,
    examinee_connect,
    examinee_disconnect,
    examinee_exam_begin,
    examinee_force_submit,
    examinee_give_up,
    examinee_submit,
    examinees_connect,
    group_complete,
    group_pause,
    group_resume,
    group_start,
    plan_complete,
    plan_pause,
    plan_resume,
    plan_start,
    supervisor_connect,
    supervisor_disconnect,
)
from tests.plans import factories

OPERATOR = "operator1"


@pytest.fixture
def t0():
    return timezone.now().replace(microsecond=0) - timedelta(minutes=5)


def statuses(plan):
    """(plan status, {group: status}) read fresh from the database."""
    return (
        TestProgress.objects.get(pk=plan.pk).status_code,
        dict(GroupProgress.objects.filter(plan=plan).values_list("group_id", "status_code")),
    )


def examinee_row(examinee):
    return ExamineeProgress.objects.get(pk=examinee.pk)


def test_plan_start_moves_plan_and_groups_and_starts_the_first_stage_clock(plan, stage, group, make_examinees, t0):
    """Starting a plan starts its groups; every examinee's first-stage deadline is start + TIME_LIMIT."""
    # given
    other_group = factories.TestGroupFactory(plan=plan)
    examinees = make_examinees(2)
    # when
    progress = plan_start(plan=plan, actor=OPERATOR, now=t0)
    # then
    assert progress.status_code == ProgressStatus.IN_PROGRESS
    assert statuses(plan) == (
        ProgressStatus.IN_PROGRESS,
        {group.pk: ProgressStatus.IN_PROGRESS, other_group.pk: ProgressStatus.IN_PROGRESS},
    )
    assert TestProgress.objects.get(pk=plan.pk).started_at == t0
    for examinee in examinees:
        row = examinee_row(examinee)
        assert (row.exam_status_code, row.current_stage_id) == (ExamStatus.WAITING, stage.pk)
        assert row.stage_started_at == t0
        assert row.stage_deadline == t0 + timedelta(seconds=stage.time_limit)
    assert list(
        StatusTransition.objects.order_by("id").values_list(
            "subject_type", "subject_id", "action", "from_value", "to_value", "actor", "occurred_at"
        )
    ) == [
        (TransitionSubject.PLAN, plan.pk, TransitionAction.START, "READY", "IN_PROGRESS", OPERATOR, t0),
        (TransitionSubject.GROUP, group.pk, TransitionAction.START, "READY", "IN_PROGRESS", OPERATOR, t0),
        (TransitionSubject.GROUP, other_group.pk, TransitionAction.START, "READY", "IN_PROGRESS", OPERATOR, t0),
    ]


def test_plan_start_begins_the_exam_of_examinees_already_connected(plan, stage, group, make_examinees, t0):
    """A connected WAITING examinee moves to IN_PROGRESS when the group starts; a disconnected one waits."""
    # given
    connected, absent = make_examinees(2)
    examinee_connect(examinee_id=connected.pk, ip_addr="10.0.0.1", browser_info="Chrome", now=t0)
    # when
    plan_start(plan=plan, actor=OPERATOR, now=t0 + timedelta(seconds=1))
    # then
    assert examinee_row(connected).exam_status_code == ExamStatus.IN_PROGRESS
    assert examinee_row(absent).exam_status_code == ExamStatus.WAITING
    begin = StatusTransition.objects.get(action=TransitionAction.BEGIN)
    assert (begin.subject_id, begin.from_value, begin.to_value, begin.actor) == (
        connected.pk,
        "WAITING",
        "IN_PROGRESS",
        OPERATOR,
    )


def test_plan_without_stages_cannot_start(db):
    """A plan with no stage is refused with EXAM_NO_STAGE and stays READY."""
    # given
    plan = factories.TestPlanFactory()
    # when
    with pytest.raises(CodedError) as error:
        plan_start(plan=plan, actor=OPERATOR)
    # then
    assert error.value.message is Msg.EXAM_NO_STAGE
    assert TestProgress.objects.get(pk=plan.pk).status_code == ProgressStatus.READY
    assert StatusTransition.objects.count() == 0


def test_plan_operations_need_an_actor(plan, stage, group):
    """Every transition is recorded with who did it: an empty actor is refused."""
    # given / when
    with pytest.raises(CodedError) as error:
        plan_start(plan=plan, actor="  ")
    # then
    assert error.value.message is Msg.VALIDATION_SCHEMA
    assert statuses(plan) == (ProgressStatus.READY, {group.pk: ProgressStatus.READY})
    assert StatusTransition.objects.count() == 0


PLAN_STEPS = {
    "start": plan_start,
    "pause": plan_pause,
    "resume": plan_resume,
    "complete": plan_complete,
}


@pytest.mark.parametrize(
    ("history", "refused"),
    [
        ([], "pause"),
        ([], "resume"),
        ([], "complete"),
        (["start"], "start"),
        (["start"], "resume"),
        (["start", "pause"], "pause"),
        (["start", "pause"], "start"),
        (["start", "complete"], "start"),
        (["start", "complete"], "pause"),
        (["start", "complete"], "resume"),
        (["start", "complete"], "complete"),
    ],
)
def test_illegal_plan_transitions_are_refused(plan, stage, group, history, refused, t0):
    """READY -> IN_PROGRESS <-> PAUSED -> COMPLETED: every other step is refused and changes nothing."""
    # given
    for index, step in enumerate(history):
        PLAN_STEPS[step](plan=plan, actor=OPERATOR, now=t0 + timedelta(seconds=index))
    before = statuses(plan)
    transitions = StatusTransition.objects.count()
    # when
    with pytest.raises(CodedError) as error:
        PLAN_STEPS[refused](plan=plan, actor=OPERATOR, now=t0 + timedelta(seconds=10))
    # then
    assert error.value.message is Msg.EXAM_ILLEGAL_TRANSITION
    assert statuses(plan) == before
    assert StatusTransition.objects.count() == transitions


def test_legal_plan_transitions_are_recorded_in_order(plan, stage, group, t0):
    """start, pause, resume, pause, complete: each change of plan and group has its audit row."""
    # given
    steps = ["start", "pause", "resume", "pause", "complete"]
    # when
    for index, step in enumerate(steps):
        PLAN_STEPS[step](plan=plan, actor=f"op{index}", now=t0 + timedelta(seconds=index))
    # then
    plan_rows = list(
        StatusTransition.objects.filter(subject_type=TransitionSubject.PLAN)
        .order_by("id")
        .values_list("action", "from_value", "to_value", "actor")
    )
    assert plan_rows == [
        ("START", "READY", "IN_PROGRESS", "op0"),
        ("PAUSE", "IN_PROGRESS", "PAUSED", "op1"),
        ("RESUME", "PAUSED", "IN_PROGRESS", "op2"),
        ("PAUSE", "IN_PROGRESS", "PAUSED", "op3"),
        ("COMPLETE", "PAUSED", "COMPLETED", "op4"),
    ]
    group_rows = list(
        StatusTransition.objects.filter(subject_type=TransitionSubject.GROUP)
        .order_by("id")
        .values_list("action", "from_value", "to_value")
    )
    assert group_rows == [
        ("START", "READY", "IN_PROGRESS"),
        ("PAUSE", "IN_PROGRESS", "PAUSED"),
        ("RESUME", "PAUSED", "IN_PROGRESS"),
        ("PAUSE", "IN_PROGRESS", "PAUSED"),
        ("COMPLETE", "PAUSED", "COMPLETED"),
    ]
    assert statuses(plan) == (ProgressStatus.COMPLETED, {group.pk: ProgressStatus.COMPLETED})


def test_plan_resume_leaves_a_group_paused_on_its_own(plan, stage, group, t0):
    """A group paused before the plan's pause stays paused when the plan resumes."""
    # given
    other_group = factories.TestGroupFactory(plan=plan)
    plan_start(plan=plan, actor=OPERATOR, now=t0)
    group_pause(group=group, actor="sup1", now=t0 + timedelta(seconds=10))
    plan_pause(plan=plan, actor=OPERATOR, now=t0 + timedelta(seconds=20))
    # when
    plan_resume(plan=plan, actor=OPERATOR, now=t0 + timedelta(seconds=30))
    # then
    assert statuses(plan) == (
        ProgressStatus.IN_PROGRESS,
        {group.pk: ProgressStatus.PAUSED, other_group.pk: ProgressStatus.IN_PROGRESS},
    )
    assert GroupProgress.objects.get(pk=group.pk).paused_at == t0 + timedelta(seconds=10)


def test_group_resume_is_refused_while_the_plan_is_paused(plan, stage, group, t0):
    """A group cannot run while its plan is paused; nothing changes."""
    # given
    plan_start(plan=plan, actor=OPERATOR, now=t0)
    plan_pause(plan=plan, actor=OPERATOR, now=t0 + timedelta(seconds=5))
    transitions = StatusTransition.objects.count()
    # when
    with pytest.raises(CodedError) as error:
        group_resume(group=group, actor=OPERATOR, now=t0 + timedelta(seconds=6))
    # then
    assert error.value.message is Msg.EXAM_ILLEGAL_TRANSITION
    assert statuses(plan) == (ProgressStatus.PAUSED, {group.pk: ProgressStatus.PAUSED})
    assert StatusTransition.objects.count() == transitions


def test_group_start_is_refused_before_the_plan_starts(plan, stage, group):
    """A group of a READY plan cannot start on its own."""
    # given / when
    with pytest.raises(CodedError) as error:
        group_start(group=group, actor=OPERATOR)
    # then
    assert error.value.message is Msg.EXAM_ILLEGAL_TRANSITION
    assert statuses(plan) == (ProgressStatus.READY, {group.pk: ProgressStatus.READY})


def test_group_start_starts_a_group_added_to_a_running_plan(plan, stage, group, t0):
    """A group created after the plan started is started on its own."""
    # given
    plan_start(plan=plan, actor=OPERATOR, now=t0)
    late_group = factories.TestGroupFactory(plan=plan)
    # when
    progress = group_start(group=late_group, actor=OPERATOR, now=t0 + timedelta(minutes=1))
    # then
    assert (progress.status_code, progress.started_at) == (ProgressStatus.IN_PROGRESS, t0 + timedelta(minutes=1))


@pytest.mark.parametrize(
    ("history", "refused", "code"),
    [
        ([], examinee_submit, Msg.EXAM_ILLEGAL_TRANSITION),
        ([], examinee_give_up, Msg.EXAM_ILLEGAL_TRANSITION),
        (["submit"], examinee_submit, Msg.EXAM_ILLEGAL_TRANSITION),
        (["submit"], examinee_give_up, Msg.EXAM_ILLEGAL_TRANSITION),
        (["give_up"], examinee_submit, Msg.EXAM_ILLEGAL_TRANSITION),
        (["give_up"], examinee_exam_begin, Msg.EXAM_ILLEGAL_TRANSITION),
        (["submit"], examinee_exam_begin, Msg.EXAM_ILLEGAL_TRANSITION),
    ],
)
def test_illegal_examinee_transitions_are_refused(plan, stage, group, examinee, history, refused, code, t0):
    """WAITING -> IN_PROGRESS -> SUBMITTED | GIVE_UP: every other step is refused and changes nothing."""
    # given
    plan_start(plan=plan, actor=OPERATOR, now=t0)
    if history:
        examinee_exam_begin(examinee_id=examinee.pk, now=t0)
    for step in history:
        {"submit": examinee_submit, "give_up": examinee_give_up}[step](examinee_id=examinee.pk, now=t0)
    before = examinee_row(examinee).exam_status_code
    counters = GroupProgress.objects.values_list("submitted_examinee_cnt", flat=True).get(pk=group.pk)
    transitions = StatusTransition.objects.count()
    # when
    with pytest.raises(CodedError) as error:
        refused(examinee_id=examinee.pk, now=t0 + timedelta(seconds=1))
    # then
    assert error.value.message is code
    assert examinee_row(examinee).exam_status_code == before
    assert GroupProgress.objects.values_list("submitted_examinee_cnt", flat=True).get(pk=group.pk) == counters
    assert StatusTransition.objects.count() == transitions


def test_examinee_cannot_begin_before_the_group_starts(plan, stage, group, examinee):
    """Beginning in a READY group is refused with EXAM_NOT_OPEN."""
    # given / when
    with pytest.raises(CodedError) as error:
        examinee_exam_begin(examinee_id=examinee.pk)
    # then
    assert error.value.message is Msg.EXAM_NOT_OPEN
    assert examinee_row(examinee).exam_status_code == ExamStatus.WAITING


def test_unknown_examinee_is_refused(db):
    """An examinee ID that does not exist gets EXAM_NOT_FOUND."""
    # given / when
    with pytest.raises(CodedError) as error:
        examinee_force_submit(examinee_id="NOBODY", actor=OPERATOR)
    # then
    assert error.value.message is Msg.EXAM_NOT_FOUND
    assert StatusTransition.objects.count() == 0


def test_connect_and_disconnect_count_once_and_are_recorded(plan, stage, group, examinee, t0):
    """Connection changes move CONNECTED_EXAMINEE_CNT by one; a repeated connect or disconnect is a no-op."""
    # given
    plan_start(plan=plan, actor=OPERATOR, now=t0)
    # when
    examinee_connect(examinee_id=examinee.pk, ip_addr="10.1.2.3", browser_info="Firefox 128", now=t0)
    examinee_connect(examinee_id=examinee.pk, ip_addr="10.1.2.4", browser_info="Firefox 128", now=t0)
    connected = GroupProgress.objects.get(pk=group.pk).connected_examinee_cnt
    examinee_disconnect(examinee_id=examinee.pk, now=t0 + timedelta(seconds=5))
    examinee_disconnect(examinee_id=examinee.pk, now=t0 + timedelta(seconds=6))
    # then
    assert connected == 1
    row = examinee_row(examinee)
    assert (row.conn_status_code, row.exam_status_code, row.ip_addr, row.browser_info) == (
        ConnectionStatus.DISCONNECTED,
        ExamStatus.IN_PROGRESS,
        "10.1.2.4",
        "Firefox 128",
    )
    assert GroupProgress.objects.get(pk=group.pk).connected_examinee_cnt == 0
    assert list(
        StatusTransition.objects.filter(subject_id=examinee.pk).order_by("id").values_list("action", "actor")
    ) == [
        ("CONNECT", f"examinee:{examinee.pk}"),
        ("BEGIN", f"examinee:{examinee.pk}"),
        ("DISCONNECT", f"examinee:{examinee.pk}"),
    ]


def test_examinees_connect_together_as_one_by_one_and_refuse_only_the_unknown(plan, stage, group, make_examinees, t0):
    """Several connects in one call: each connected and begun as examinee_connect would, two groups'
    counters moved by their own numbers, an examinee named twice counted once, an unknown ID refused
    alone, and the same statements for five as for one."""
    # given: three examinees in the running group, one in a group added after the start (READY:
    # connected, not begun)
    here = make_examinees(3)
    plan_start(plan=plan, actor=OPERATOR, now=t0)
    other = factories.TestGroupFactory(plan=plan)
    (waiting,) = make_examinees(1, target_group=other, prefix="OT")
    connections = [
        ExamineeConnection(examinee.pk, ip_addr="10.0.0.9", browser_info="Chrome") for examinee in [*here, waiting]
    ]
    # when
    with CaptureQueriesContext(connection) as alone:
        examinees_connect(connections=connections[:1], now=t0)
    with CaptureQueriesContext(connection) as together:
        results = examinees_connect(
            connections=[*connections, connections[1], ExamineeConnection("NOBODY")], now=t0 + timedelta(seconds=1)
        )
    # then
    assert results["NOBODY"].message is Msg.EXAM_NOT_FOUND
    rows = {row.pk: row for row in ExamineeProgress.objects.filter(pk__in=[e.pk for e in [*here, waiting]])}
    assert {pk: (row.conn_status_code, row.exam_status_code, row.ip_addr) for pk, row in rows.items()} == {
        **{e.pk: (ConnectionStatus.CONNECTED, ExamStatus.IN_PROGRESS, "10.0.0.9") for e in here},
        waiting.pk: (ConnectionStatus.CONNECTED, ExamStatus.WAITING, "10.0.0.9"),
    }
    assert rows[here[1].pk].stage_deadline == t0 + timedelta(seconds=stage.time_limit)  # the start's clock
    assert dict(GroupProgress.objects.filter(plan=plan).values_list("pk", "connected_examinee_cnt")) == {
        group.pk: 3,
        other.pk: 1,
    }
    assert StatusTransition.objects.filter(subject_id=here[1].pk, action=TransitionAction.CONNECT).count() == 1
    assert StatusTransition.objects.filter(subject_id=waiting.pk).values_list("action", flat=True).get() == "CONNECT"
    # one more statement only for the second group's counter, and one for the rows that did not begin
    assert len(together.captured_queries) == len(alone.captured_queries) + 2


def test_connect_before_the_start_does_not_begin_the_exam(plan, stage, group, examinee, t0):
    """Connecting to a READY group leaves the examinee WAITING."""
    # given / when
    examinee_connect(examinee_id=examinee.pk, now=t0)
    # then
    row = examinee_row(examinee)
    assert (row.conn_status_code, row.exam_status_code) == (ConnectionStatus.CONNECTED, ExamStatus.WAITING)
    assert GroupProgress.objects.get(pk=group.pk).connected_examinee_cnt == 1


def test_examinee_added_after_the_start_gets_a_full_first_stage(plan, stage, group, make_examinees, t0):
    """An examinee created in a running group starts the first stage when they begin."""
    # given
    plan_start(plan=plan, actor=OPERATOR, now=t0)
    (late,) = make_examinees(1, prefix="LATE")
    # when
    examinee_connect(examinee_id=late.pk, now=t0 + timedelta(minutes=10))
    # then
    row = examinee_row(late)
    assert row.exam_status_code == ExamStatus.IN_PROGRESS
    assert row.stage_started_at == t0 + timedelta(minutes=10)
    assert row.stage_deadline == t0 + timedelta(minutes=10, seconds=stage.time_limit)


def test_force_submit_writes_the_answer_rows_and_records_the_operator(plan, stage, group, examinee, t0):
    """Force submit: SUBMITTED, ANSWER rows from ANSWER_DATA, SUBMITTED_EXAMINEE_CNT + 1, audit with who and why."""
    # given
    plan_start(plan=plan, actor=OPERATOR, now=t0)
    examinee_connect(examinee_id=examinee.pk, now=t0)
    questions = list(stage.test_code.questions.order_by("question_no"))
    for number, question in enumerate(questions[:2], start=1):
        AnswerData.objects.create(
            examinee=examinee,
            group=group,
            plan=plan,
            exam_id=plan.pk,
            user_id=examinee.pk,
            question=question,
            answer_type=question.question_type,
            answer_value=str(number),
            last_modified=t0,
            version=1,
        )
    submitted_at = t0 + timedelta(minutes=3)
    # when
    progress = examinee_force_submit(examinee_id=examinee.pk, actor="sup1", reason="부정행위 확인", now=submitted_at)
    # then
    assert (progress.exam_status_code, progress.stage_deadline) == (ExamStatus.SUBMITTED, None)
    assert sorted(Answer.objects.filter(examinee=examinee).values_list("question_id", "answer_content")) == [
        (questions[0].pk, "1"),
        (questions[1].pk, "2"),
    ]
    assert set(Answer.objects.filter(examinee=examinee).values_list("submit_datetime", flat=True)) == {submitted_at}
    assert GroupProgress.objects.get(pk=group.pk).submitted_examinee_cnt == 1
    record = StatusTransition.objects.get(action=TransitionAction.FORCE_SUBMIT)
    assert (record.subject_id, record.actor, record.reason, record.from_value, record.to_value) == (
        examinee.pk,
        "sup1",
        "부정행위 확인",
        "IN_PROGRESS",
        "SUBMITTED",
    )


def test_give_up_ends_the_sitting_without_answer_rows(plan, stage, group, examinee, t0):
    """GIVE_UP closes the clock, writes no ANSWER rows and does not count as submitted."""
    # given
    plan_start(plan=plan, actor=OPERATOR, now=t0)
    examinee_exam_begin(examinee_id=examinee.pk, now=t0)
    # when
    progress = examinee_give_up(examinee_id=examinee.pk, reason="몸이 불편함", now=t0 + timedelta(minutes=1))
    # then
    assert (progress.exam_status_code, progress.stage_deadline) == (ExamStatus.GIVE_UP, None)
    assert Answer.objects.count() == 0
    assert GroupProgress.objects.get(pk=group.pk).submitted_examinee_cnt == 0


def test_group_complete_submits_everybody_still_sitting(plan, stage, group, make_examinees, t0):
    """Completing a group submits the sheets of IN_PROGRESS examinees and closes every clock."""
    # given
    sitting, absent, done = make_examinees(3)
    plan_start(plan=plan, actor=OPERATOR, now=t0)
    for examinee in (sitting, done):
        examinee_exam_begin(examinee_id=examinee.pk, now=t0)
    examinee_submit(examinee_id=done.pk, now=t0 + timedelta(minutes=1))
    # when
    group_complete(group=group, actor=OPERATOR, now=t0 + timedelta(minutes=2))
    # then
    assert {
        e.pk: (examinee_row(e).exam_status_code, examinee_row(e).stage_deadline) for e in (sitting, absent, done)
    } == {
        sitting.pk: (ExamStatus.SUBMITTED, None),
        absent.pk: (ExamStatus.WAITING, None),
        done.pk: (ExamStatus.SUBMITTED, None),
    }
    assert GroupProgress.objects.get(pk=group.pk).submitted_examinee_cnt == 2
    forced = StatusTransition.objects.get(action=TransitionAction.FORCE_SUBMIT)
    assert (forced.subject_id, forced.actor) == (sitting.pk, OPERATOR)


def test_supervisor_connection_moves_its_counter(plan, stage, group, supervisor, t0):
    """Supervisor connect and disconnect move CONNECTED_SUPERVISOR_CNT once each, idempotently."""
    # given / when
    supervisor_connect(supervisor_id=supervisor.pk, ip_addr="10.9.9.9", now=t0)
    supervisor_connect(supervisor_id=supervisor.pk, ip_addr="10.9.9.9", now=t0)
    connected = GroupProgress.objects.get(pk=group.pk).connected_supervisor_cnt
    supervisor_disconnect(supervisor_id=supervisor.pk, now=t0)
    # then
    assert connected == 1
    assert GroupProgress.objects.get(pk=group.pk).connected_supervisor_cnt == 0
    assert list(StatusTransition.objects.order_by("id").values_list("subject_type", "action")) == [
        (TransitionSubject.SUPERVISOR, "CONNECT"),
        (TransitionSubject.SUPERVISOR, "DISCONNECT"),
    ]
