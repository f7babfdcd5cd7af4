"""The operator API of the lifecycle (plans.api): staff only, thin over the services, coded refusals."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from rest_framework.test import APIClient

from monitoring.messages import Msg
from plans.choices import ExamStatus, ProgressStatus, TransitionAction
from plans.models import ExamineeProgress, GroupProgress, StatusTransition, TestProgress
from plans.services.lifecycle import examinee_connect, plan_start


@pytest.fixture
def operator(db):
    """A staff user with the plan permissions the admin's lifecycle actions need."""
    user = get_user_model().objects.create_user(username="operator1", password="x-Pass-123", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="plans", codename__in=["view_testplan", "change_testplan"])
    )
    return user


@pytest.fixture
def api(operator):
    client = APIClient()
    client.force_authenticate(operator)
    return client


def url(name, **kwargs):
    return reverse(f"plans-api:{name}", kwargs=kwargs)


def test_plan_start_pause_resume_complete_through_the_api(api, plan, stage, group):
    """Each POST moves the plan and is recorded with the operator's user name."""
    # given
    steps = [("plan-start", "IN_PROGRESS"), ("plan-pause", "PAUSED"), ("plan-resume", "IN_PROGRESS")]
    # when
    replies = [api.post(url(name, plan_id=plan.pk), {"reason": "점검"}, format="json") for name, _ in steps]
    completed = api.post(url("plan-complete", plan_id=plan.pk), format="json")
    # then
    assert [(reply.status_code, reply.json()["status_code"]) for reply in replies] == [
        (200, expected) for _, expected in steps
    ]
    assert (completed.status_code, completed.json()["status_code"]) == (200, "COMPLETED")
    assert set(StatusTransition.objects.values_list("actor", flat=True)) == {"api:operator1"}
    assert list(StatusTransition.objects.filter(subject_id=plan.pk).order_by("id").values_list("action", "reason")) == [
        ("START", ""),
        ("PAUSE", "점검"),
        ("RESUME", "점검"),
        ("COMPLETE", ""),
    ]


def test_an_illegal_transition_answers_409_with_its_code(api, plan, stage, group):
    """Pausing a READY plan is refused with EXAM_ILLEGAL_TRANSITION and changes nothing."""
    # given / when
    reply = api.post(url("plan-pause", plan_id=plan.pk), format="json")
    # then
    assert reply.status_code == 409
    assert reply.json()["code"] == Msg.EXAM_ILLEGAL_TRANSITION.code
    assert TestProgress.objects.get(pk=plan.pk).status_code == ProgressStatus.READY
    assert StatusTransition.objects.count() == 0


def test_an_unknown_plan_answers_404(api):
    """A plan ID that does not exist is EXAM_NOT_FOUND."""
    # given / when
    reply = api.post(url("plan-start", plan_id="NO-PLAN"), format="json")
    # then
    assert (reply.status_code, reply.json()["code"]) == (404, Msg.EXAM_NOT_FOUND.code)


def test_group_pause_and_live_counts(api, plan, stage, group, examinee):
    """A group pause answers the group's progress; the plan overview shows statuses and live counts."""
    # given
    plan_start(plan=plan, actor="operator1")
    examinee_connect(examinee_id=examinee.pk)
    # when
    paused = api.post(url("group-pause", group_id=group.pk), {"reason": "정전"}, format="json")
    overview = api.get(url("plan-progress", plan_id=plan.pk))
    # then
    assert paused.status_code == 200
    assert (paused.json()["status_code"], paused.json()["connected_examinee_cnt"]) == ("PAUSED", 1)
    body = overview.json()
    assert body["status_code"] == "IN_PROGRESS"
    assert [
        (g["group_id"], g["status_code"], g["assigned_examinee_cnt"], g["connected_examinee_cnt"])
        for g in body["groups"]
    ] == [(group.pk, "PAUSED", 1, 1)]


def test_extend_and_force_submit_through_the_api(api, plan, stage, group, make_examinees):
    """Extra time answers the new clock; force submit ends the sitting; both record the operator."""
    # given
    helped, cheater = make_examinees(2)
    plan_start(plan=plan, actor="operator1")
    for examinee in (helped, cheater):
        examinee_connect(examinee_id=examinee.pk)
    # when
    extended = api.post(
        url("examinee-extend", examinee_id=helped.pk), {"seconds": 300, "reason": "편의"}, format="json"
    )
    submitted = api.post(url("examinee-force-submit", examinee_id=cheater.pk), {"reason": "부정"}, format="json")
    # then
    assert extended.status_code == 200
    assert (extended.json()["extraSeconds"], extended.json()["open"]) == (300, True)
    assert submitted.json() == {"examinee_id": cheater.pk, "exam_status_code": "SUBMITTED"}
    assert sorted(
        StatusTransition.objects.filter(
            action__in=[TransitionAction.EXTEND, TransitionAction.FORCE_SUBMIT]
        ).values_list("subject_id", "action", "actor", "seconds")
    ) == sorted([(helped.pk, "EXTEND", "api:operator1", 300), (cheater.pk, "FORCE_SUBMIT", "api:operator1", None)])


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, Msg.VALIDATION_SCHEMA),
        ({"seconds": "many"}, 400, Msg.VALIDATION_SCHEMA),
        ({"seconds": 0}, 409, Msg.EXAM_EXTENSION_INVALID),
        ({"seconds": 100_000}, 409, Msg.EXAM_EXTENSION_INVALID),
    ],
)
def test_extend_with_bad_seconds_is_refused(api, plan, stage, group, examinee, body, status, code):
    """Missing, non-numeric or out-of-range seconds are refused with a code; the deadline stays."""
    # given
    plan_start(plan=plan, actor="operator1")
    examinee_connect(examinee_id=examinee.pk)
    before = ExamineeProgress.objects.get(pk=examinee.pk).stage_deadline
    # when
    reply = api.post(url("examinee-extend", examinee_id=examinee.pk), body, format="json")
    # then
    assert (reply.status_code, reply.json()["code"]) == (status, code.code)
    assert ExamineeProgress.objects.get(pk=examinee.pk).stage_deadline == before
    assert not StatusTransition.objects.filter(action=TransitionAction.EXTEND).exists()


def test_examinee_clock_through_the_api(api, plan, stage, group, examinee):
    """The operator reads an examinee's server clock."""
    # given
    plan_start(plan=plan, actor="operator1")
    # when
    reply = api.get(url("examinee-clock", examinee_id=examinee.pk))
    # then
    body = reply.json()
    assert (body["stageId"], body["examStatus"], body["paused"], body["open"]) == (stage.pk, "WAITING", False, False)
    assert 3590 < body["remainingSeconds"] <= 3600


def test_group_advance_through_the_api(api, plan, stage, group):
    """The release answers how many examinees moved (none while the stage is open)."""
    # given
    plan_start(plan=plan, actor="operator1")
    # when
    reply = api.post(url("group-advance", group_id=group.pk), format="json")
    # then
    assert (reply.status_code, reply.json()) == (200, {"group_id": group.pk, "moved": 0})


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("plan-start", {"plan_id": "P"}),
        ("group-pause", {"group_id": "G"}),
        ("examinee-force-submit", {"examinee_id": "E"}),
        ("examinee-extend", {"examinee_id": "E"}),
    ],
)
def test_non_staff_users_are_refused(db, plan, stage, group, examinee, name, kwargs):
    """A signed-in user who is not staff (a supervisor's account) and an anonymous caller are refused."""
    # given
    user = get_user_model().objects.create_user(username="sup1", password="x-Pass-123")
    signed_in, anonymous = APIClient(), APIClient()
    signed_in.force_authenticate(user)
    kwargs = {key: {"plan_id": plan.pk, "group_id": group.pk, "examinee_id": examinee.pk}[key] for key in kwargs}
    # when
    replies = [client.post(url(name, **kwargs), {"seconds": 60}, format="json") for client in (signed_in, anonymous)]
    # then
    # Session authentication has no WWW-Authenticate challenge, so DRF answers an anonymous caller 403.
    assert [(reply.status_code, reply.json()["code"]) for reply in replies] == [
        (403, Msg.AUTH_FORBIDDEN.code),
        (403, Msg.AUTH_TOKEN_INVALID.code),
    ]
    assert StatusTransition.objects.count() == 0
    assert TestProgress.objects.get(pk=plan.pk).status_code == ProgressStatus.READY
    assert GroupProgress.objects.get(pk=group.pk).status_code == ProgressStatus.READY
    assert ExamineeProgress.objects.get(pk=examinee.pk).exam_status_code == ExamStatus.WAITING


def test_staff_without_the_plan_permission_cannot_act(plan, stage, group):
    """Being staff is not enough: starting a plan needs plans.change_testplan, as in the admin (403, plan READY)."""
    # given
    viewer = get_user_model().objects.create_user(username="viewer", password="x-Pass-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(content_type__app_label="plans", codename="view_testplan"))
    client = APIClient()
    client.force_authenticate(viewer)
    # when
    read = client.get(url("plan-progress", plan_id=plan.pk))
    act = client.post(url("plan-start", plan_id=plan.pk), {}, format="json")
    # then
    assert (read.status_code, act.status_code) == (200, 403)
    assert act.json()["code"] == "AUT-003"
    assert TestProgress.objects.get(pk=plan.pk).status_code == "READY"
