"""The operator's control page in a real Chromium against the real platform: an operator signs in to the
admin, opens a running plan's control page, pauses a group with the keyboard (reason and confirmation),
sees the status change and the counts follow an examinee who connects, and sees a refusal with its code."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone, translation

from monitoring.messages import Msg
from plans.admin import control_strings
from plans.choices import ProgressStatus
from plans.models import ExamineeProgress, GroupProgress, StatusTransition, TestStage
from plans.services.lifecycle import examinee_connect, plan_start
from tests.browser.helpers import off_loop
from tests.plans import factories

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -r requirements-dev.txt)"
).expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.browser]

PASSWORD = "Control-Pass-123"
RUN_AXE = """async () => {
  const result = await axe.run(document.querySelector("#content-main"), { resultTypes: ["violations"] });
  return result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")) }));
}"""


@pytest.fixture
def control_page(browser_context, platform, plan, stage, group, make_examinees):
    """A running plan with two examinees, and a staff operator's browser on its control page (Korean)."""
    get_user_model().objects.create_superuser(username="operator1", password=PASSWORD, email="")
    examinees = make_examinees(2)
    off_loop(plan_start, plan=plan, actor="test")
    page = browser_context().new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/admin/login/")
    page.locator("#id_username").fill("operator1")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#login-form [type=submit]").click()
    page.wait_for_url("**/admin/")
    page.goto(f"/admin/plans/testplan/{plan.pk}/control/")
    expect(page.locator("#control-live")).to_have_attribute("data-state", "live")
    page.examinees = examinees
    page.script_errors = errors
    return page


def row(page, group_id: str):
    return page.locator(f'#group-rows tr[data-group-id="{group_id}"]')


def korean(key: str, **params) -> str:
    """The page's words in Korean (the default language the browser asks for), filled like control.js does."""
    with translation.override("ko"):
        text = control_strings()[key]
    for name, value in params.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def korean_status(status: str) -> str:
    with translation.override("ko"):
        return str(ProgressStatus(status).label)


def test_pause_with_the_keyboard_changes_the_status_and_counts_follow_live(control_page, plan, stage, group):
    """Enter on "Pause", a reason, Tab, Enter: the group's badge turns PAUSED, the status region says so,
    the clock stands still; an examinee who connects shows in the counts within a poll or two."""
    # given
    page = control_page
    group_row = row(page, group.pk)
    expect(group_row.locator('[data-field="status"]')).to_have_attribute("data-status", "IN_PROGRESS")
    expect(group_row.locator('[data-field="assigned_examinee_cnt"]')).to_have_text("2")
    running_line = group_row.locator('[data-field="clock"] li')
    running_text = re.escape(korean("stage_running", stage=stage.stage_name, count=2, remaining="MM:SS"))
    expect(running_line).to_have_text(re.compile("^" + running_text.replace("MM:SS", r"59:\d\d") + "$"))
    counting = running_line.inner_text()
    expect(running_line).not_to_have_text(counting, timeout=3_000)  # it counts down between polls
    # when: keyboard only
    pause = group_row.locator('button[data-action="pause"]')
    pause.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#reason-dialog")).to_be_visible()
    target = korean("target_group", id=group.pk)
    expect(page.locator("#reason-title")).to_have_text(korean("confirm_pause_title", target=target))
    expect(page.locator("#reason-input")).to_be_focused()
    page.keyboard.type("정전으로 일시 중지")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    # then
    expect(group_row.locator('[data-field="status"]')).to_have_attribute("data-status", "PAUSED")
    expect(group_row.locator('[data-field="status"]')).to_have_text(korean_status("PAUSED"))
    expect(page.locator("#control-status")).to_have_text(korean("done_pause", target=target))
    expect(page.locator("#reason-dialog")).to_be_hidden()
    paused_line = group_row.locator('[data-field="clock"] li')
    paused_text = re.escape(korean("stage_paused", stage=stage.stage_name, count=2, remaining="MM:SS"))
    expect(paused_line).to_have_text(re.compile("^" + paused_text.replace("MM:SS", r"59:\d\d") + "$"))
    frozen = paused_line.inner_text()
    page.wait_for_timeout(2_500)  # a poll and ten ticks later: the clock stands still
    expect(paused_line).to_have_text(frozen)
    expect(group_row.locator('button[data-action="resume"]')).to_be_enabled()
    expect(pause).to_be_disabled()
    # the keyboard focus moved on from the disabled button to the next possible action
    expect(group_row.locator('button[data-action="resume"]')).to_be_focused()
    progress = GroupProgress.objects.get(pk=group.pk)
    assert progress.status_code == ProgressStatus.PAUSED
    assert list(
        StatusTransition.objects.filter(subject_type="GROUP", subject_id=group.pk, action="PAUSE").values_list(
            "actor", "reason"
        )
    ) == [("api:operator1", "정전으로 일시 중지")]
    # when: an examinee connects elsewhere
    off_loop(examinee_connect, examinee_id=page.examinees[0].pk)
    # then: the next poll shows it
    expect(group_row.locator('[data-field="connected_examinee_cnt"]')).to_have_text("1", timeout=6_000)
    assert page.script_errors == []


def test_escape_cancels_the_pause_and_nothing_changes(control_page, plan, group):
    """A pause asked for and cancelled with Escape sends nothing."""
    # given
    page = control_page
    row(page, group.pk).locator('button[data-action="pause"]').click()
    expect(page.locator("#reason-dialog")).to_be_visible()
    # when
    page.keyboard.press("Escape")
    # then
    expect(page.locator("#reason-dialog")).to_be_hidden()
    page.wait_for_timeout(2_500)  # a poll later
    expect(row(page, group.pk).locator('[data-field="status"]')).to_have_attribute("data-status", "IN_PROGRESS")
    assert GroupProgress.objects.get(pk=group.pk).status_code == ProgressStatus.IN_PROGRESS
    assert not StatusTransition.objects.filter(action="PAUSE").exists()


def test_a_refusal_is_shown_with_the_servers_code_and_message(control_page, plan, group):
    """With the whole exam paused, resuming one group is refused: the page shows EXM-005 and the
    server's message in its alert, and the group stays paused."""
    # given: the exam paused from the page
    page = control_page
    page.locator('button[data-scope="plan"][data-action="pause"]').click()
    page.locator("#reason-input").fill("점검")
    page.locator("#reason-confirm").click()
    expect(page.locator("#plan-status")).to_have_attribute("data-status", "PAUSED")
    resume = row(page, group.pk).locator('button[data-action="resume"]')
    expect(resume).to_be_enabled()
    # when
    resume.click()
    # then
    message = Msg.EXAM_ILLEGAL_TRANSITION
    error = (
        korean("error_with_code", code=message.code, message=message.ko)
        + " "
        + korean("error_detail", detail=f"plan {plan.pk} is PAUSED; resume the plan")
    )
    expect(page.locator("#control-error")).to_have_text(
        korean("refused", target=korean("target_group", id=group.pk), error=error)
    )
    assert GroupProgress.objects.get(pk=group.pk).status_code == ProgressStatus.PAUSED
    assert page.script_errors == []


def test_axe_finds_no_serious_violation_on_the_control_page(control_page, group, axe_source):
    """The page's own content, and its open reason dialog, pass axe-core (serious and critical)."""
    # given
    page = control_page
    page.add_script_tag(content=axe_source)
    # when
    on_page = [v for v in page.evaluate(RUN_AXE) if v["impact"] in ("serious", "critical")]
    row(page, group.pk).locator('button[data-action="complete"]').click()
    expect(page.locator("#reason-dialog")).to_be_visible()
    in_dialog = [v for v in page.evaluate(RUN_AXE) if v["impact"] in ("serious", "critical")]
    # then
    assert on_page == []
    assert in_dialog == []


def test_move_on_releases_a_group_waiting_at_a_closed_stage(control_page, plan, stage, group):
    """At a closed AUTO_MOVE 'N' stage the clock says the group waits; "Move on" releases it into the
    next stage, the page says how many moved and shows the new stage's clock."""
    # given: the first stage waits to be released and its time ran out; a second stage follows
    page = control_page
    following = factories.TestStageFactory(plan=plan, stage_order=2, stage_name="2교시", time_limit=1800)
    TestStage.objects.filter(pk=stage.pk).update(auto_move_yn="N")
    ExamineeProgress.objects.filter(group_id=group.pk).update(stage_deadline=timezone.now() - timedelta(seconds=1))
    clock = row(page, group.pk).locator('[data-field="clock"] li')
    expect(clock).to_have_text(korean("stage_waiting", stage=stage.stage_name, count=2), timeout=6_000)
    # when
    row(page, group.pk).locator('button[data-action="advance"]').click()
    # then
    target = korean("target_group", id=group.pk)
    expect(page.locator("#control-status")).to_have_text(korean("done_advance", target=target, count=2))
    expect(clock).to_have_text(re.compile(r"^" + re.escape(following.stage_name) + r": (29:5\d|30:00)"), timeout=6_000)
    assert set(ExamineeProgress.objects.filter(group_id=group.pk).values_list("current_stage_id", flat=True)) == {
        following.pk
    }
    assert page.script_errors == []
