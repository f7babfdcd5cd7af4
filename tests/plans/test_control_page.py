"""The operator's control page of a plan (plans.admin.PlanControlAdminMixin): who may open it, what it
shows, its clock endpoint, and the round trip the page's script makes: a POST to the operator API from
the admin session with the CSRF token, then the next poll's JSON."""

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from monitoring.messages import Msg
from plans.choices import ProgressStatus
from plans.models import GroupProgress, StatusTransition, TestProgress
from plans.services.lifecycle import examinee_connect, examinee_submit, examinee_time_extend, group_pause, plan_start
from plans.services.roster import group_create
from tests.plans import factories

PASSWORD = "Control-Pass-123"


def control_url(plan_id: str) -> str:
    return reverse("admin:plans_testplan_control", args=[plan_id])


def clocks_url(plan_id: str) -> str:
    return reverse("admin:plans_testplan_control_clocks", args=[plan_id])


def make_operator(username: str = "operator1", *, codenames=("view_testplan", "change_testplan")):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="plans", codename__in=codenames))
    return user


def signed_in(user, *, enforce_csrf_checks: bool = False) -> Client:
    client = Client(enforce_csrf_checks=enforce_csrf_checks, HTTP_ACCEPT_LANGUAGE="en")
    assert client.login(username=user.username, password=PASSWORD)
    return client


def page_json(response, element_id: str) -> dict:
    """The JSON of a `json_script` tag, as the page's script reads it."""
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', response.text, re.S)
    assert match, element_id
    return json.loads(match.group(1))


def count_cell(field: str, value: int) -> str:
    return f'<td class="control-number" data-field="{field}">{value}</td>'


@pytest.fixture
def operator(db):
    return make_operator()


def test_the_page_shows_the_plan_its_stages_and_each_groups_status_counts_and_clock(
    plan, stage, group, make_examinees, supervisor, operator
):
    """Staff see the plan's status, its stages, and per group the status, the five head counts and
    the stage with its remaining time."""
    # given
    second = factories.TestStageFactory(plan=plan, stage_order=2, stage_name="2교시", time_limit=1800, auto_move_yn="N")
    first, other, absent = make_examinees(3)
    now = timezone.now()
    plan_start(plan=plan, actor="test", now=now)
    examinee_connect(examinee_id=first.pk)
    examinee_connect(examinee_id=other.pk)
    # when
    response = signed_in(operator).get(control_url(plan.pk))
    # then
    assert response.status_code == 200
    assert response.templates[0].name == "admin/plans/control.html"
    html = response.text
    assert f'data-group-id="{group.pk}"' in html
    for field, value in [
        ("assigned_examinee_cnt", 3),
        ("connected_examinee_cnt", 2),
        ("submitted_examinee_cnt", 0),
        ("assigned_supervisor_cnt", 1),
        ("connected_supervisor_cnt", 0),
    ]:
        assert count_cell(field, value) in html
    assert 'id="plan-status" class="control-badge" data-status="IN_PROGRESS">In progress<' in html
    assert f'data-stage-id="{stage.pk}"' in html and f'data-stage-id="{second.pk}"' in html
    assert "30:00 <span" in html  # the second stage's 1,800 s
    [row] = response.context["rows"][:-1]
    [line] = row["clock_lines"]
    assert re.fullmatch(rf"{stage.stage_name}: (59:5\d|1:00:00) left \(examinees: 3\)", line), line
    assert response.context["rows"][-1]["blank"] is True
    assert [(action, allowed) for action, _label, allowed in row["buttons"]] == [
        ("start", False),
        ("pause", True),
        ("resume", False),
        ("complete", True),
        ("advance", True),
    ]


def test_the_pages_config_names_the_operator_api_and_the_transition_table(plan, stage, group, operator):
    """The script gets the API's URLs, the CSRF token and the statuses each button may start from;
    its words come translated in a second JSON script."""
    # when
    response = signed_in(operator).get(control_url(plan.pk))
    # then
    config = page_json(response, "control-config")
    assert config["progressUrl"] == f"/api/v1/operator/plans/{plan.pk}"
    assert config["clocksUrl"] == f"/admin/plans/testplan/{plan.pk}/control/clocks/"
    assert config["planActionUrls"] == {
        action: f"/api/v1/operator/plans/{plan.pk}/{action}" for action in ("start", "pause", "resume", "complete")
    }
    assert config["groupActionUrls"]["advance"] == "/api/v1/operator/groups/__GROUP__/advance"
    assert config["transitions"] == {
        "start": ["READY"],
        "pause": ["IN_PROGRESS"],
        "resume": ["PAUSED"],
        "complete": ["IN_PROGRESS", "PAUSED"],
        "advance": ["IN_PROGRESS"],
    }
    assert config["canChange"] is True
    assert config["pollMilliseconds"] == 2000
    assert len(config["csrfToken"]) == 64
    assert config["csrfCookieName"] == "csrftoken"
    assert page_json(response, "control-strings")["done_pause"] == "{target}: paused."


def test_anonymous_is_sent_to_the_admin_sign_in(plan):
    """Without a session the page and its clocks redirect to the admin's sign-in page."""
    # when
    page = Client().get(control_url(plan.pk))
    clocks = Client().get(clocks_url(plan.pk))
    # then
    assert (page.status_code, page["Location"]) == (302, f"/admin/login/?next={control_url(plan.pk)}")
    assert (clocks.status_code, clocks["Location"]) == (302, f"/admin/login/?next={clocks_url(plan.pk)}")


def test_a_signed_in_user_who_is_not_staff_is_refused(plan):
    """A non-staff account gets 403 for the page and its clocks (not the sign-in page again)."""
    # given
    user = get_user_model().objects.create_user(username="examinee-like", password=PASSWORD)
    client = signed_in(user)
    # when / then
    assert client.get(control_url(plan.pk)).status_code == 403
    assert client.get(clocks_url(plan.pk)).status_code == 403


def test_staff_without_permission_on_plans_are_refused(plan):
    """A staff account with no permission on exam plans gets 403."""
    # given
    client = signed_in(make_operator("clerk", codenames=()))
    # when / then
    assert client.get(control_url(plan.pk)).status_code == 403
    assert client.get(clocks_url(plan.pk)).status_code == 403


def test_view_only_staff_see_the_page_without_buttons(plan, stage, group):
    """A staff account that may only view plans sees the live page but no action buttons."""
    # given
    client = signed_in(make_operator("observer", codenames=("view_testplan",)))
    # when
    response = client.get(control_url(plan.pk))
    # then
    assert response.status_code == 200
    assert "data-action=" not in response.text
    assert page_json(response, "control-config")["canChange"] is False


def test_an_unknown_plan_goes_back_to_the_admin_with_a_message(operator):
    """A plan ID that does not exist redirects like the admin's change page does; its clocks answer
    EXAM_NOT_FOUND."""
    # given
    client = signed_in(operator)
    # when
    page = client.get(control_url("NO-PLAN"))
    clocks = client.get(clocks_url("NO-PLAN"))
    # then
    assert (page.status_code, page["Location"]) == (302, reverse("admin:index"))
    assert clocks.status_code == 404
    assert (clocks.json()["code"], clocks.json()["detail"]) == (Msg.EXAM_NOT_FOUND.code, "plan NO-PLAN")


def test_the_plan_list_and_change_page_link_to_the_control_page(plan, operator):
    """The plan list has a "Control" column and the change page a "control" field, both linking here."""
    # given
    client = signed_in(operator)
    link = f'<a href="{control_url(plan.pk)}">Control</a>'
    # when
    listing = client.get(reverse("admin:plans_testplan_changelist"))
    change = client.get(reverse("admin:plans_testplan_change", args=[plan.pk]))
    # then
    assert link in listing.text
    assert link in change.text


def test_clocks_give_each_groups_stage_and_remaining_time_with_extra_time(plan, stage, group, make_examinees, operator):
    """One entry per group and stage: the earliest deadline is the group's schedule, the latest has
    the extra time; remaining times are the server's, 300 s apart for 300 s of extra time."""
    # given
    helped, other = make_examinees(2)
    started = timezone.now()
    plan_start(plan=plan, actor="test", now=started)
    for examinee in (helped, other):
        examinee_connect(examinee_id=examinee.pk)
    examinee_time_extend(examinee_id=helped.pk, seconds=300, actor="test")
    # when
    body = signed_in(operator).get(clocks_url(plan.pk)).json()
    # then
    [clock] = body["clocks"]
    deadline = started + timedelta(seconds=stage.time_limit)
    assert {
        key: clock[key]
        for key in ("group_id", "stage_id", "stage_order", "stage_name", "auto_move", "examinees", "paused")
    } == {
        "group_id": group.pk,
        "stage_id": stage.pk,
        "stage_order": stage.stage_order,
        "stage_name": stage.stage_name,
        "auto_move": True,
        "examinees": 2,
        "paused": False,
    }
    assert clock["first_deadline"] == deadline.isoformat()
    assert clock["last_deadline"] == (deadline + timedelta(seconds=300)).isoformat()
    assert clock["last_remaining_ms"] - clock["first_remaining_ms"] == 300_000
    server_time = timezone.datetime.fromisoformat(body["server_time"])
    assert clock["first_remaining_ms"] == (deadline - server_time) // timedelta(milliseconds=1)


def test_clocks_stand_still_while_the_group_is_paused(plan, stage, group, examinee, operator):
    """A paused group's remaining time is what it was at the pause, however late the poll."""
    # given
    started = timezone.now() - timedelta(minutes=10)
    plan_start(plan=plan, actor="test", now=started)
    examinee_connect(examinee_id=examinee.pk)
    group_pause(group=group, actor="test", now=started + timedelta(seconds=90))
    # when
    [clock] = signed_in(operator).get(clocks_url(plan.pk)).json()["clocks"]
    # then
    assert clock["paused"] is True
    assert clock["first_remaining_ms"] == (stage.time_limit - 90) * 1000


def test_clocks_leave_out_finished_examinees_and_groups_not_started(plan, stage, group, make_examinees, operator):
    """Only examinees who still follow the schedule count: none of a group not started yet, none who submitted."""
    # given
    sitting, done = make_examinees(2)
    plan_start(plan=plan, actor="test")
    for examinee in (sitting, done):
        examinee_connect(examinee_id=examinee.pk)
    examinee_submit(examinee_id=done.pk)
    late_group = group_create(
        plan=plan,
        group_id="LATE",
        group_name="늦은 고사실",
        start_datetime=plan.start_datetime,
        end_datetime=plan.end_datetime,
    )
    make_examinees(2, target_group=late_group, prefix="LATE")
    # when
    clocks = signed_in(operator).get(clocks_url(plan.pk)).json()["clocks"]
    # then
    assert [(clock["group_id"], clock["stage_id"], clock["examinees"]) for clock in clocks] == [(group.pk, stage.pk, 1)]


def test_a_post_from_the_pages_session_with_its_csrf_token_starts_and_pauses_a_group(
    plan, stage, group, make_examinees, operator
):
    """The page's round trip: GET the page, POST group start and pause to the operator API with the
    page's CSRF token in X-CSRFToken, and the next poll shows the new status and the counts."""
    # given: a running plan, and a group added after its start (still READY) with 2 examinees, 1 connected
    plan_start(plan=plan, actor="test")
    late = group_create(
        plan=plan,
        group_id="LATE-ROOM",
        group_name="추가 고사실",
        start_datetime=plan.start_datetime,
        end_datetime=plan.end_datetime,
    )
    connected, _absent = make_examinees(2, target_group=late, prefix="LATE")
    examinee_connect(examinee_id=connected.pk)
    client = signed_in(operator, enforce_csrf_checks=True)
    config = page_json(client.get(control_url(plan.pk)), "control-config")
    headers = {"HTTP_X_CSRFTOKEN": config["csrfToken"]}
    group_url = config["groupActionUrls"]

    def poll_row(group_id: str) -> dict:
        body = client.get(config["progressUrl"]).json()
        return next(row for row in body["groups"] if row["group_id"] == group_id)

    before = poll_row(late.pk)
    # when
    started = client.post(
        group_url["start"].replace(config["groupPlaceholder"], late.pk), {}, content_type="application/json", **headers
    )
    after_start = poll_row(late.pk)
    paused = client.post(
        group_url["pause"].replace(config["groupPlaceholder"], late.pk),
        {"reason": "정전"},
        content_type="application/json",
        **headers,
    )
    after_pause = poll_row(late.pk)
    # then
    counts = ("assigned_examinee_cnt", "connected_examinee_cnt", "submitted_examinee_cnt")
    assert (before["status_code"], *(before[key] for key in counts)) == ("READY", 2, 1, 0)
    assert (started.status_code, started.json()["status_code"]) == (200, "IN_PROGRESS")
    assert (after_start["status_code"], *(after_start[key] for key in counts)) == ("IN_PROGRESS", 2, 1, 0)
    assert (paused.status_code, paused.json()["status_code"]) == (200, "PAUSED")
    assert (after_pause["status_code"], *(after_pause[key] for key in counts)) == ("PAUSED", 2, 1, 0)
    assert after_pause["paused_at"] is not None
    assert list(
        StatusTransition.objects.filter(subject_type="GROUP", subject_id=late.pk)
        .order_by("id")
        .values_list("action", "actor", "reason")
    ) == [("START", f"api:{operator.username}", ""), ("PAUSE", f"api:{operator.username}", "정전")]
    assert GroupProgress.objects.get(pk=group.pk).status_code == ProgressStatus.IN_PROGRESS


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(plan, stage, group, operator):
    """The operator API accepts the admin session only with the CSRF token: without it, 403 with
    AUT-006 and the reason, and the plan stays READY."""
    # given
    client = signed_in(operator, enforce_csrf_checks=True)
    config = page_json(client.get(control_url(plan.pk)), "control-config")
    # when
    reply = client.post(config["planActionUrls"]["start"], {}, content_type="application/json")
    # then
    assert reply.status_code == 403
    assert reply.json()["code"] == Msg.AUTH_CSRF_FAILED.code
    assert "CSRF" in reply.json()["detail"]["detail"]
    assert TestProgress.objects.get(pk=plan.pk).status_code == ProgressStatus.READY
    assert StatusTransition.objects.count() == 0


def test_a_refused_click_answers_the_code_and_message_the_page_shows(plan, stage, group, operator):
    """Resuming a running group from the page is refused with EXM-005 and its message; nothing changes."""
    # given
    plan_start(plan=plan, actor="test")
    audit_before = StatusTransition.objects.count()
    client = signed_in(operator, enforce_csrf_checks=True)
    config = page_json(client.get(control_url(plan.pk)), "control-config")
    url = config["groupActionUrls"]["resume"].replace(config["groupPlaceholder"], group.pk)
    # when
    reply = client.post(url, {}, content_type="application/json", HTTP_X_CSRFTOKEN=config["csrfToken"])
    # then
    assert reply.status_code == 409
    assert {key: reply.json()[key] for key in ("type", "code", "message")} == {
        "type": "error",
        "code": Msg.EXAM_ILLEGAL_TRANSITION.code,
        "message": Msg.EXAM_ILLEGAL_TRANSITION.en,
    }
    assert GroupProgress.objects.get(pk=group.pk).status_code == ProgressStatus.IN_PROGRESS
    assert StatusTransition.objects.count() == audit_before


def _query_counts(client: Client, plan_id: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as page:
        assert client.get(control_url(plan_id)).status_code == 200
    with CaptureQueriesContext(connection) as poll:
        assert client.get(clocks_url(plan_id)).status_code == 200
    return len(page), len(poll)


def test_the_page_and_its_clocks_cost_the_same_queries_for_one_group_or_many(plan, stage, make_examinees, operator):
    """Neither the page nor a poll of its clocks reads per group: four groups cost what one does,
    and a poll is the session, the user, the plan, the user's permissions (two) and one aggregate."""
    # given
    client = signed_in(operator)
    groups = [factories.TestGroupFactory(plan=plan) for _ in range(4)]
    for index, group in enumerate(groups):
        make_examinees(2, target_group=group, prefix=f"G{index}-")
    plan_start(plan=plan, actor="test")
    many = _query_counts(client, plan.pk)
    for group in groups[1:]:
        group.delete()
    # when
    one = _query_counts(client, plan.pk)
    # then
    assert many == one
    assert one[1] == 6
