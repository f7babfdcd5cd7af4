"""Lifecycle actions of the admin: start, pause, resume and complete plans and groups; extra time and
force submit for examinees. The actions only call plans.services.lifecycle and report its refusals."""

from datetime import timedelta

import pytest
from django.urls import reverse

from plans.models import ExamineeProgress, GroupProgress, StatusTransition, TestProgress
from plans.services.lifecycle import plan_start
from tests.plans import factories

PLAN_CHANGELIST = "admin:plans_testplan_changelist"
GROUP_CHANGELIST = "admin:plans_testgroup_changelist"
EXAMINEE_CHANGELIST = "admin:plans_examinee_changelist"


@pytest.fixture
def en_client(admin_client):
    admin_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return admin_client


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_start_action_starts_plan_and_groups_with_operator_in_audit(en_client, plan, group, examinee, admin_user):
    """Starting a plan moves it and its groups to IN_PROGRESS; the audit names the operator."""
    # given
    data = {"action": "start_plans", "_selected_action": [plan.pk]}

    # when
    response = en_client.post(reverse(PLAN_CHANGELIST), data, follow=True)

    # then
    assert _messages(response) == [f"Started: {plan.pk}"]
    assert TestProgress.objects.get(pk=plan.pk).status_code == "IN_PROGRESS"
    assert GroupProgress.objects.get(pk=group.pk).status_code == "IN_PROGRESS"
    assert list(StatusTransition.objects.filter(subject_type="PLAN").values_list("subject_id", "action", "actor")) == [
        (plan.pk, "START", f"admin:{admin_user.username}")
    ]


def test_illegal_start_is_refused_with_its_code_and_changes_nothing(en_client, plan, group, examinee):
    """Starting a running plan again is refused (EXM-005) and its state and audit stay as they were."""
    # given
    plan_start(plan=plan, actor="test")
    audit_before = StatusTransition.objects.count()
    data = {"action": "start_plans", "_selected_action": [plan.pk]}

    # when
    response = en_client.post(reverse(PLAN_CHANGELIST), data, follow=True)

    # then
    (message,) = _messages(response)
    assert message.startswith(f"{plan.pk}: EXM-005 That action is not allowed in the current state.")
    assert TestProgress.objects.get(pk=plan.pk).status_code == "IN_PROGRESS"
    assert StatusTransition.objects.count() == audit_before


def test_pause_and_resume_plan(en_client, plan, group, examinee):
    """Pause then resume: the plan and its group follow."""
    # given
    plan_start(plan=plan, actor="test")

    # when
    en_client.post(reverse(PLAN_CHANGELIST), {"action": "pause_plans", "_selected_action": [plan.pk]})
    paused = (TestProgress.objects.get(pk=plan.pk).status_code, GroupProgress.objects.get(pk=group.pk).status_code)
    en_client.post(reverse(PLAN_CHANGELIST), {"action": "resume_plans", "_selected_action": [plan.pk]})

    # then
    assert paused == ("PAUSED", "PAUSED")
    assert TestProgress.objects.get(pk=plan.pk).status_code == "IN_PROGRESS"
    assert GroupProgress.objects.get(pk=group.pk).status_code == "IN_PROGRESS"


def test_complete_plan_asks_first_then_completes_with_reason(en_client, plan, group, examinee):
    """Completing a plan shows a confirmation (nothing changes); confirmed, it completes and records the reason."""
    # given
    plan_start(plan=plan, actor="test")
    data = {"action": "complete_plans", "_selected_action": [plan.pk]}

    # when
    confirm = en_client.post(reverse(PLAN_CHANGELIST), data)
    status_after_confirm_page = TestProgress.objects.get(pk=plan.pk).status_code
    done = en_client.post(reverse(PLAN_CHANGELIST), {**data, "confirm": "yes", "reason": "정전 복구 후 종료"})

    # then
    assert confirm.status_code == 200
    assert "This cannot be undone." in confirm.content.decode()
    assert status_after_confirm_page == "IN_PROGRESS"
    assert done.status_code == 302
    assert TestProgress.objects.get(pk=plan.pk).status_code == "COMPLETED"
    assert StatusTransition.objects.get(subject_type="PLAN", action="COMPLETE").reason == "정전 복구 후 종료"


def test_pause_one_group_leaves_the_others_running(en_client, plan, group, examinee):
    """A group action touches only the selected group."""
    # given
    other_group = factories.TestGroupFactory(plan=plan)
    plan_start(plan=plan, actor="test")

    # when
    response = en_client.post(
        reverse(GROUP_CHANGELIST), {"action": "pause_groups", "_selected_action": [group.pk]}, follow=True
    )

    # then
    assert _messages(response) == [f"Paused: {group.pk}"]
    assert GroupProgress.objects.get(pk=group.pk).status_code == "PAUSED"
    assert GroupProgress.objects.get(pk=other_group.pk).status_code == "IN_PROGRESS"


def test_extra_time_moves_only_the_selected_deadline(en_client, plan, group, make_examinees):
    """Extra time asks for minutes and a reason, then moves only the selected examinee's deadline."""
    # given
    first, second = make_examinees(2)
    plan_start(plan=plan, actor="test")
    deadlines = dict(ExamineeProgress.objects.values_list("pk", "stage_deadline"))
    data = {"action": "extend_time", "_selected_action": [first.pk]}

    # when
    form_page = en_client.post(reverse(EXAMINEE_CHANGELIST), data)
    response = en_client.post(
        reverse(EXAMINEE_CHANGELIST), {**data, "confirm": "yes", "minutes": "15", "reason": "장애"}
    )

    # then
    assert form_page.status_code == 200 and 'name="minutes"' in form_page.content.decode()
    assert response.status_code == 302
    after = dict(ExamineeProgress.objects.values_list("pk", "stage_deadline"))
    assert after[first.pk] - deadlines[first.pk] == timedelta(minutes=15)
    assert after[second.pk] == deadlines[second.pk]
    record = StatusTransition.objects.get(action="EXTEND")
    assert (record.subject_id, record.seconds, record.reason) == (first.pk, 900, "장애")


def test_extra_time_refuses_bad_minutes_and_changes_nothing(en_client, plan, group, examinee):
    """Zero minutes is a form error on the same page; no deadline moves and nothing is recorded."""
    # given
    plan_start(plan=plan, actor="test")
    deadline = ExamineeProgress.objects.get(pk=examinee.pk).stage_deadline
    data = {"action": "extend_time", "_selected_action": [examinee.pk], "confirm": "yes", "minutes": "0"}

    # when
    response = en_client.post(reverse(EXAMINEE_CHANGELIST), data)

    # then
    assert response.status_code == 200
    assert response.context["form"].errors == {"minutes": ["Ensure this value is greater than or equal to 1."]}
    assert ExamineeProgress.objects.get(pk=examinee.pk).stage_deadline == deadline
    assert StatusTransition.objects.filter(action="EXTEND").count() == 0


def test_extra_time_before_the_exam_starts_is_refused(en_client, examinee):
    """Without an open stage the service refuses (EXM-008) and the operator sees it."""
    # given
    data = {"action": "extend_time", "_selected_action": [examinee.pk], "confirm": "yes", "minutes": "5"}

    # when
    response = en_client.post(reverse(EXAMINEE_CHANGELIST), data, follow=True)

    # then
    (message,) = _messages(response)
    assert message.startswith(f"{examinee.pk}: EXM-008")
    assert ExamineeProgress.objects.get(pk=examinee.pk).stage_deadline is None


def test_force_submit_submits_sitting_examinees_and_reports_refusals(en_client, plan, group, make_examinees):
    """Force submit ends a sitting examinee's exam; one who never began is refused (EXM-005) and stays WAITING."""
    # given
    from plans.services.lifecycle import examinee_exam_begin

    sitting, waiting = make_examinees(2)
    plan_start(plan=plan, actor="test")
    examinee_exam_begin(examinee_id=sitting.pk)
    data = {"action": "force_submit", "_selected_action": [sitting.pk, waiting.pk]}

    # when
    confirm = en_client.post(reverse(EXAMINEE_CHANGELIST), data)
    response = en_client.post(
        reverse(EXAMINEE_CHANGELIST), {**data, "confirm": "yes", "reason": "부정행위 확인"}, follow=True
    )

    # then
    assert "This cannot be undone." in confirm.content.decode()
    messages = _messages(response)
    assert messages[0].startswith(f"{waiting.pk}: EXM-005")
    assert messages[1] == f"Submitted: {sitting.pk}"
    statuses = dict(ExamineeProgress.objects.values_list("pk", "exam_status_code"))
    assert statuses == {sitting.pk: "SUBMITTED", waiting.pk: "WAITING"}
    assert GroupProgress.objects.get(pk=group.pk).submitted_examinee_cnt == 1
    record = StatusTransition.objects.get(action="FORCE_SUBMIT")
    assert (record.subject_id, record.reason) == (sitting.pk, "부정행위 확인")
