"""The examinee pages for keyboard and screen-reader users: focus order, and axe-core (from npm, injected
by Playwright) finds no serious or critical violation on the sign-in page, the exam page, its submit
dialog and its pause overlay, in Korean and in English."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from plans.models import TestPlan
from plans.services.lifecycle import plan_pause, plan_resume
from tests.browser.helpers import off_loop, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -r requirements-dev.txt)"
).expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.browser]

RUN_AXE = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")),
  }));
}"""


def serious_violations(page: Page, axe_source: str) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_source)
    return [v for v in page.evaluate(RUN_AXE) if v["impact"] in ("serious", "critical")]


def focused_id(page: Page) -> str:
    return page.evaluate("document.activeElement.id || document.activeElement.className")


def test_sign_in_page_focus_order_follows_the_form(browser_context, platform):
    """Tab walks: skip link, language, its button, plan ID, examinee ID, access code, sign-in button."""
    # given
    page = browser_context().new_page()
    page.goto("/")
    # when
    order = []
    for _ in range(7):
        page.keyboard.press("Tab")
        order.append(focused_id(page))
    # then
    assert order == [
        "skip-link",
        "language-select",
        "secondary",
        "plan-id",
        "examinee-id",
        "access-code",
        "login-submit",
    ]


def test_a_wrong_access_code_is_announced_with_its_code(browser_context, sitting, platform):
    """A refused sign-in shows the server's message and code in an alert that takes the focus."""
    # given
    page = browser_context().new_page()
    page.goto("/")
    # when
    page.locator("#plan-id").fill(sitting.plan_id)
    page.locator("#examinee-id").fill(sitting.examinee_id)
    page.locator("#access-code").fill("WRONG-CODE")
    page.keyboard.press("Enter")
    # then
    alert = page.locator("#login-error")
    expect(alert).to_have_text("수험번호 또는 접속 코드가 올바르지 않습니다. (AUT-001)")
    expect(alert).to_be_focused()
    assert page.url.endswith("/")


@pytest.mark.parametrize("language", ["ko", "en"])
def test_axe_finds_no_serious_violation(browser_context, sitting, platform, axe_source, language):
    """Sign-in page, exam page with answers, the submit dialog and the pause overlay pass axe-core."""
    # given
    page = browser_context().new_page()
    page.goto("/")
    if language == "en":
        page.locator("#language-select").select_option("en")
        page.locator(".language-switch button").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
    # when / then: sign-in page
    assert serious_violations(page, axe_source) == []
    # when / then: exam page with saved answers
    sign_in(page, sitting)
    page.locator("#question-0 label").nth(1).click()
    expect(page.locator("#save-status")).to_have_attribute("data-state", "committed", timeout=30_000)
    assert serious_violations(page, axe_source) == []
    # when / then: the submit dialog
    page.locator("#submit-open").click()
    expect(page.locator("#submit-dialog")).to_be_visible()
    assert serious_violations(page, axe_source) == []
    page.keyboard.press("Escape")
    expect(page.locator("#submit-dialog")).to_be_hidden()
    # when / then: the pause overlay
    plan = TestPlan.objects.get(pk=sitting.plan_id)
    off_loop(plan_pause, plan=plan, actor="test")
    expect(page.locator("#pause-overlay")).to_be_visible()
    assert serious_violations(page, axe_source) == []
    off_loop(plan_resume, plan=plan, actor="test")
    expect(page.locator("#pause-overlay")).to_be_hidden()
