"""GROUP_PROGRESS counters kept by the transitions themselves (F() updates) equal a recount from the
rows after any sequence of joins, leaves, submits and give-ups (hypothesis), and the periodic
reconciliation corrects drift."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from monitoring.messages import CodedError, Msg
from plans.choices import ConnectionStatus, ExamStatus
from plans.models import ExamineeProgress, GroupProgress, SupervisorProgress
from plans.services.lifecycle import (
    examinee_connect,
    examinee_disconnect,
    examinee_force_submit,
    examinee_give_up,
    examinee_submit,
    group_progress_reconcile,
    group_start,
    plan_start,
    supervisor_connect,
    supervisor_disconnect,
)
from plans.services.roster import PersonRow, group_progress_recount, supervisors_bulk_create
from tests.plans import factories

OPERATOR = "operator1"
RUNNING_EXAMINEES = 4
READY_EXAMINEES = 2


def counters(group_id):
    return GroupProgress.objects.values_list(
        "assigned_examinee_cnt",
        "connected_examinee_cnt",
        "submitted_examinee_cnt",
        "assigned_supervisor_cnt",
        "connected_supervisor_cnt",
    ).get(pk=group_id)


def recounted(group_id):
    """The counters computed from the rows with count(*), as the reconciliation does."""
    examinees = ExamineeProgress.objects.filter(group_id=group_id).aggregate(
        assigned=Count("pk"),
        connected=Count("pk", filter=Q(conn_status_code=ConnectionStatus.CONNECTED)),
        submitted=Count("pk", filter=Q(exam_status_code=ExamStatus.SUBMITTED)),
    )
    supervisors = SupervisorProgress.objects.filter(group_id=group_id).aggregate(
        assigned=Count("pk"), connected=Count("pk", filter=Q(conn_status_code=ConnectionStatus.CONNECTED))
    )
    return (
        examinees["assigned"],
        examinees["connected"],
        examinees["submitted"],
        supervisors["assigned"],
        supervisors["connected"],
    )


@pytest.fixture
def two_rooms(plan, stage, group, make_examinees):
    """A running group with 4 examinees and a READY group with 2, one supervisor each."""
    now = timezone.now() - timedelta(minutes=10)
    ready_group = factories.TestGroupFactory(plan=plan)
    running = make_examinees(RUNNING_EXAMINEES)
    waiting = make_examinees(READY_EXAMINEES, target_group=ready_group, prefix="RDY")
    supervisors = supervisors_bulk_create(
        rows=[
            PersonRow(person_id="SUP-RUN", group_id=group.pk, name="감독관1"),
            PersonRow(person_id="SUP-RDY", group_id=ready_group.pk, name="감독관2"),
        ]
    )
    plan_start(plan=plan, actor=OPERATOR, now=now)
    # Move the second group back to READY as if it had been added after the start.
    GroupProgress.objects.filter(pk=ready_group.pk).update(status_code="READY", started_at=None)
    ExamineeProgress.objects.filter(group_id=ready_group.pk).update(stage_started_at=None, stage_deadline=None)
    return {
        "groups": [group, ready_group],
        "examinees": [e.pk for e in running + waiting],
        "running": {e.pk for e in running},
        "supervisors": [s.pk for s in supervisors],
    }


EXAMINEE_OPS = ["connect", "disconnect", "submit", "give_up", "force_submit"]
SUPERVISOR_OPS = ["supervisor_connect", "supervisor_disconnect"]
steps = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(EXAMINEE_OPS), st.integers(0, RUNNING_EXAMINEES + READY_EXAMINEES - 1)),
        st.tuples(st.sampled_from(SUPERVISOR_OPS), st.integers(0, 1)),
        st.tuples(st.just("start_ready_group"), st.just(0)),
    ),
    min_size=5,
    max_size=50,
)


class Model:
    """What the services should do, in plain Python: statuses per examinee, refusals expected."""

    def __init__(self, examinees, running):
        self.exam = dict.fromkeys(examinees, ExamStatus.WAITING)
        self.connected = dict.fromkeys(examinees, False)
        self.running = set(running)
        self.waiting_room = set(examinees) - self.running

    def start_ready_group(self):
        """The READY group starts once; its connected examinees begin. A second start is refused."""
        if not self.waiting_room:
            return Msg.EXAM_ILLEGAL_TRANSITION
        for examinee_id in self.waiting_room:
            if self.connected[examinee_id]:
                self.exam[examinee_id] = ExamStatus.IN_PROGRESS
        self.running |= self.waiting_room
        self.waiting_room = set()
        return None

    def apply(self, op, examinee_id):
        """Returns the message code the service must refuse with, or None."""
        if op == "connect":
            self.connected[examinee_id] = True
            if examinee_id in self.running and self.exam[examinee_id] == ExamStatus.WAITING:
                self.exam[examinee_id] = ExamStatus.IN_PROGRESS
            return None
        if op == "disconnect":
            self.connected[examinee_id] = False
            return None
        if self.exam[examinee_id] != ExamStatus.IN_PROGRESS:
            return Msg.EXAM_ILLEGAL_TRANSITION
        self.exam[examinee_id] = ExamStatus.GIVE_UP if op == "give_up" else ExamStatus.SUBMITTED
        return None


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=steps)
@example(
    sequence=[
        ("connect", 0),
        ("disconnect", 0),
        ("connect", 1),
        ("submit", 1),
        ("connect", 2),
        ("give_up", 2),
        ("submit", 3),
        ("connect", 4),
        ("start_ready_group", 0),
        ("force_submit", 4),
        ("start_ready_group", 0),
        ("supervisor_connect", 0),
        ("supervisor_connect", 0),
        ("supervisor_disconnect", 1),
        ("disconnect", 4),
    ]
)
def test_group_progress_equals_a_recount_after_any_sequence(two_rooms, sequence):
    """Counters moved by joins, leaves, submits, give-ups and supervisors equal a recount; refusals change nothing."""
    # given
    groups, examinees = two_rooms["groups"], two_rooms["examinees"]
    model = Model(examinees, two_rooms["running"])
    with transaction.atomic():
        now = timezone.now()
        # when
        for op, index in sequence:
            if op == "start_ready_group":
                expected_refusal = model.start_ready_group()
                try:
                    group_start(group=groups[1], actor=OPERATOR, now=now)
                    refused = None
                except CodedError as error:
                    refused = error.message
                assert refused is expected_refusal
                continue
            if op in SUPERVISOR_OPS:
                service = supervisor_connect if op == "supervisor_connect" else supervisor_disconnect
                service(supervisor_id=two_rooms["supervisors"][index], now=now)
                continue
            examinee_id = examinees[index]
            expected_refusal = model.apply(op, examinee_id)
            before = [counters(g.pk) for g in groups]
            try:
                if op == "connect":
                    examinee_connect(examinee_id=examinee_id, ip_addr="10.0.0.1", now=now)
                elif op == "disconnect":
                    examinee_disconnect(examinee_id=examinee_id, now=now)
                elif op == "submit":
                    examinee_submit(examinee_id=examinee_id, now=now)
                elif op == "give_up":
                    examinee_give_up(examinee_id=examinee_id, now=now)
                else:
                    examinee_force_submit(examinee_id=examinee_id, actor=OPERATOR, now=now)
                refused = None
            except CodedError as error:
                refused = error.message
                assert [counters(g.pk) for g in groups] == before
            assert refused is expected_refusal, (op, examinee_id)
        # then
        for group in groups:
            assert counters(group.pk) == recounted(group.pk)
        assert group_progress_recount(group_ids=[g.pk for g in groups]) == 0
        statuses = dict(ExamineeProgress.objects.values_list("pk", "exam_status_code"))
        assert statuses == model.exam
        connections = dict(ExamineeProgress.objects.values_list("pk", "conn_status_code"))
        assert connections == {
            e: ConnectionStatus.CONNECTED if model.connected[e] else ConnectionStatus.DISCONNECTED for e in examinees
        }
        transaction.set_rollback(True)


def test_reconciliation_corrects_drift(plan, stage, group, make_examinees, supervisor):
    """Drifted counters of a running group are rebuilt from the rows; a completed group is left alone."""
    # given
    examinees = make_examinees(3)
    plan_start(plan=plan, actor=OPERATOR)
    examinee_connect(examinee_id=examinees[0].pk)
    GroupProgress.objects.filter(pk=group.pk).update(
        assigned_examinee_cnt=9, connected_examinee_cnt=7, submitted_examinee_cnt=5, connected_supervisor_cnt=1
    )
    # when
    drifted = group_progress_reconcile()
    # then
    assert drifted == 1
    assert counters(group.pk) == (3, 1, 0, 1, 0)
    assert group_progress_reconcile() == 0
