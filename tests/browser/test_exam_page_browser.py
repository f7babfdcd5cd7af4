"""The exam page in a real Chromium against the real platform (daphne, Celery, PostgreSQL, Redis).

An examinee signs in with the keyboard, answers, sees "saved" then "stored permanently", loses the
network and keeps working, comes back, reloads, crashes, and signs in on another computer; the
answers end in ANSWER_DATA with the versions the page sent, and the page shows them again.
"""

from __future__ import annotations

import math
import re
import time

import pytest
from django.utils import timezone

from answers.keys import answer_cache_key
from answers.models import AnswerHistory
from exam_platform.redis import redis_client
from plans.models import ExamineeProgress, Question, TestPlan, TestStage
from plans.services.access import examinee_access_codes_issue
from plans.services.lifecycle import plan_pause, plan_resume, plan_start, stage_deadlines_enforce
from tests.answers.helpers import checksum
from tests.browser.helpers import Frames, eventually, go_to_question, off_loop, sign_in, status, stored
from tests.plans import factories

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -r requirements-dev.txt)"
).expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.browser]


def test_answers_are_saved_stored_and_restored_after_reload_and_on_another_computer(browser_context, sitting, platform):
    """Keyboard answers go saved -> stored permanently, land in ANSWER_DATA, and come back after a reload
    and in a fresh browser profile (where the server's copy is the source)."""
    # given
    page = browser_context().new_page()
    frames = Frames(page)
    sign_in(page, sitting, keyboard_only=True)
    q1, short = sitting.questions[0], sitting.short_answer
    # when: choice 3 with the keyboard (Space checks the first, arrows move), a Korean short answer typed
    page.locator("#question-0 input[type=radio]").first.focus()
    page.keyboard.press("Space")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    go_to_question(page, 4)
    page.keyboard.press("Tab")
    expect(page.locator("#answer-3")).to_be_focused()
    page.keyboard.type("세종대왕")
    # then: saved, then stored permanently, per question and overall
    expect(status(page)).to_have_attribute("data-state", "committed", timeout=30_000)
    expect(page.locator("#question-3-status")).to_have_attribute("data-state", "committed")
    expect(page.locator("#palette button").nth(0)).to_have_attribute("data-state", "committed")
    assert any(f["type"] == "answer.ack" for f in frames.received)
    assert any(f["type"] == "answer.committed" for f in frames.received)
    short_version = max(version for _, version in frames.values(short.pk))
    assert frames.values(short.pk)[-1] == ("세종대왕", short_version)
    assert frames.values(q1.pk) == [("3", 1)]
    assert stored(sitting.examinee_id) == {q1.pk: ("3", 1), short.pk: ("세종대왕", short_version)}
    assert AnswerHistory.objects.filter(examinee_id=sitting.examinee_id, question_id=q1.pk).count() == 1
    assert frames.syncs(short.pk)[-1]["metadata"]["behavior"]["keystrokes"] == 4
    assert frames.sent[0]["type"] == "recover"
    # when: reload
    page.reload()
    expect(page.locator("#exam-app")).to_have_attribute("data-ready", "true")
    # then
    expect(page.locator("#question-0 input[value='3']")).to_be_checked()
    expect(page.locator("#answer-3")).to_have_value("세종대왕")
    expect(status(page)).to_have_attribute("data-state", "committed")
    # when: another computer (a fresh profile: no cookies, no journal)
    other = browser_context().new_page()
    other_frames = Frames(other)
    sign_in(other, sitting)
    # then
    expect(other.locator("#question-0 input[value='3']")).to_be_checked()
    expect(other.locator("#answer-3")).to_have_value("세종대왕")
    expect(other.locator("#save-status")).to_have_attribute("data-state", "committed")
    assert other_frames.syncs() == []
    assert stored(sitting.examinee_id) == {q1.pk: ("3", 1), short.pk: ("세종대왕", short_version)}


def test_offline_changes_are_kept_counted_and_sent_when_back_also_after_a_crash(browser_context, sitting, platform):
    """Offline the page keeps working and shows N unsent; back online they are sent and committed; a
    change made offline survives closing the page (a crash) and is sent from the journal next time."""
    # given
    context = browser_context()
    page = context.new_page()
    frames = Frames(page)
    sign_in(page, sitting)
    q1, q2, short = sitting.questions[0], sitting.questions[1], sitting.short_answer
    cache_key = answer_cache_key(exam_id=sitting.plan_id, test_code=sitting.test_code, user_id=sitting.examinee_id)
    # when: offline, two answers
    context.set_offline(True)
    expect(page.locator("#exam-app")).to_have_attribute("data-connection", "offline")
    page.locator("#question-0 label").nth(1).click()
    go_to_question(page, 4)
    page.locator("#answer-3").press_sequentially("한글")
    # then: shown as unsent, nothing reached the server
    expect(status(page)).to_have_attribute("data-state", "offline")
    expect(status(page)).to_have_attribute("data-unsent", "2")
    expect(status(page)).to_contain_text("미전송 2건")
    expect(page.locator("#question-3-status")).to_have_attribute("data-state", "unsent")
    time.sleep(1.0)  # past the debounce: a page that sent anyway would have sent by now
    assert frames.syncs() == []
    assert redis_client().exists(cache_key) == 0
    assert stored(sitting.examinee_id) == {}
    # when: back online
    context.set_offline(False)
    # then
    expect(status(page)).to_have_attribute("data-state", "committed", timeout=30_000)
    assert stored(sitting.examinee_id) == {q1.pk: ("2", 1), short.pk: ("한글", frames.values(short.pk)[-1][1])}
    # when: offline again, one more change, and the page dies before it could send it
    context.set_offline(True)
    expect(page.locator("#exam-app")).to_have_attribute("data-connection", "offline")
    go_to_question(page, 2)
    page.locator("#question-1 label").nth(3).click()
    expect(status(page)).to_have_attribute("data-unsent", "1")
    expect(page.locator("#exam-app")).to_have_attribute("data-journal-pending", "0")
    page.close()
    context.set_offline(False)
    reopened = context.new_page()
    reopened_frames = Frames(reopened)
    reopened.goto("/exam/")
    # then: the journal had it; it is shown, sent and committed
    expect(reopened.locator("#question-1 input[value='4']")).to_be_checked()
    expect(reopened.locator("#save-status")).to_have_attribute("data-state", "committed", timeout=30_000)
    assert reopened_frames.values(q2.pk) == [("4", 1)]
    assert stored(sitting.examinee_id)[q2.pk] == ("4", 1)
    assert len(stored(sitting.examinee_id)) == 3


def test_korean_ime_composition_is_never_sent_half_composed(browser_context, sitting, platform):
    """While an input method composes a syllable nothing is sent; after compositionend the committed text
    is sent once, neither cut nor doubled (Chromium's own IME path, driven through the DevTools protocol)."""
    # given
    context = browser_context()
    page = context.new_page()
    frames = Frames(page)
    sign_in(page, sitting)
    short = sitting.short_answer
    go_to_question(page, 4)
    page.locator("#answer-3").focus()
    devtools = context.new_cdp_session(page)
    # when: compose 한 (ㅎ, 하, 한) and wait past the debounce
    for text in ("ㅎ", "하", "한"):
        devtools.send("Input.imeSetComposition", {"text": text, "selectionStart": len(text), "selectionEnd": len(text)})
    time.sleep(1.0)
    during = list(frames.values(short.pk))
    devtools.send("Input.insertText", {"text": "한"})
    expect(page.locator("#question-3-status")).to_have_attribute("data-state", "committed", timeout=30_000)
    for text in ("ㄱ", "그", "글"):
        devtools.send("Input.imeSetComposition", {"text": text, "selectionStart": len(text), "selectionEnd": len(text)})
    time.sleep(1.0)
    during_second = list(frames.values(short.pk))
    devtools.send("Input.insertText", {"text": "글"})
    expect(page.locator("#question-3-status")).to_have_attribute("data-state", "committed", timeout=30_000)
    # then
    assert during == []
    assert during_second == [("한", 1)]
    assert frames.values(short.pk) == [("한", 1), ("한글", 2)]
    assert page.locator("#answer-3").input_value() == "한글"
    assert stored(sitting.examinee_id) == {short.pk: ("한글", 2)}


def test_pause_blocks_the_sheet_and_resume_opens_it(browser_context, sitting, platform):
    """An operator's pause reaches the page (exam.state): a blocking overlay, the sheet inert, a click
    changes nothing; the resume removes it and the sheet works again."""
    # given
    page = browser_context().new_page()
    frames = Frames(page)
    sign_in(page, sitting)
    plan = TestPlan.objects.get(pk=sitting.plan_id)
    deadline = ExamineeProgress.objects.get(pk=sitting.examinee_id).stage_deadline
    expect(page.locator("#countdown")).to_have_attribute("data-seconds", re.compile(r"^\d+$"))  # the clock shown
    running = int(page.locator("#countdown").get_attribute("data-seconds"))
    assert abs(running - math.ceil((deadline - timezone.now()).total_seconds())) <= 2
    # when
    off_loop(plan_pause, plan=plan, actor="test")
    # then
    expect(page.locator("#pause-overlay")).to_be_visible()
    frozen = page.locator("#countdown").get_attribute("data-seconds")
    time.sleep(2.2)
    expect(page.locator("#countdown")).to_have_attribute("data-seconds", frozen)
    expect(page.locator("#pause-dialog")).to_be_focused()
    expect(page.locator("#pause-message")).to_have_text("시험이 일시 중지되었습니다. 감독관의 안내를 기다려 주세요.")
    assert page.evaluate("document.getElementById('exam-main').inert") is True
    box = page.locator("#question-0 label").nth(0).bounding_box()
    page.mouse.click(box["x"] + 10, box["y"] + 10)
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    time.sleep(0.6)
    expect(page.locator("#question-0 input[type=radio]:checked")).to_have_count(0)
    assert frames.syncs() == []
    # when
    off_loop(plan_resume, plan=plan, actor="test")
    # then
    expect(page.locator("#pause-overlay")).to_be_hidden()
    expect(page.locator("#countdown")).not_to_have_attribute("data-seconds", frozen, timeout=5_000)
    page.locator("#question-0 label").nth(0).click()
    expect(status(page)).to_have_attribute("data-state", "committed", timeout=30_000)
    assert stored(sitting.examinee_id) == {sitting.questions[0].pk: ("1", 1)}


def test_submit_sends_submit_and_shows_the_servers_reply(browser_context, sitting, platform):
    """The submit button asks first (a modal dialog), saves what is pending, sends {"type": "submit"}
    and shows the server's reply; an error reply is shown with its message and code."""
    # given
    page = browser_context().new_page()
    frames = Frames(page)
    sign_in(page, sitting)
    page.locator("#question-0 label").nth(2).click()
    # when
    page.locator("#submit-open").click()
    expect(page.locator("#submit-dialog")).to_be_visible()
    expect(page.locator("#submit-dialog-body")).to_contain_text("전체 4문항 중 3문항에 답하지 않았습니다.")
    page.locator("#submit-confirm").click()
    # then
    result = page.locator("#submit-result")
    expect(result).to_have_attribute("data-state", re.compile("^(error|done)$"), timeout=30_000)
    submit_index = next(i for i, f in enumerate(frames.sent) if f["type"] == "submit")
    assert [f["type"] for f in frames.sent[:submit_index]].count("answer.sync") == 1
    reply = frames.reply_to("submit")
    if reply["type"] == "error":
        expect(result).to_have_attribute("data-state", "error")
        expect(result).to_have_text(f"{reply['message']} ({reply['code']})")
    else:
        assert (reply["type"], reply["answered"], reply["total"]) == ("submit.result", 1, 4)
        expect(result).to_have_attribute("data-state", "done")
        expect(result).to_have_text("답안을 제출했습니다(전체 4문항 중 1문항 응답).")
        expect(page.locator("#answer-3")).to_be_disabled()
    # the flush writes ANSWER_DATA after the submit as before it
    expected = {sitting.questions[0].pk: ("3", 1)}
    assert eventually(lambda: stored(sitting.examinee_id), expected) == expected


def test_http_fallback_when_the_socket_cannot_connect(browser_context, sitting, platform):
    """When /ws/exam/ keeps failing (a network that starts blocking WebSockets mid-exam), the reloaded
    page recovers and saves over POST /api/v1/answers/sync and learns the commit from GET
    /api/v1/answers/recover."""
    # given: the examinee began over the socket; from now on every WebSocket is closed at once
    page = browser_context().new_page()
    sign_in(page, sitting)
    page.route_web_socket("**/ws/exam/**", lambda socket: socket.close(code=1011, reason="blocked"))
    syncs = []
    page.on("request", lambda r: syncs.append(r.post_data_json) if r.url.endswith("/api/v1/answers/sync") else None)
    question = sitting.questions[0].pk
    # when
    page.reload()
    expect(page.locator("#exam-app")).to_have_attribute("data-connection", "fallback", timeout=30_000)
    expect(status(page)).to_contain_text("(저속 연결 모드)")
    page.locator("#question-0 label").nth(3).click()
    # then
    expect(status(page)).to_have_attribute("data-state", "committed", timeout=40_000)
    assert [(s["answers"][question]["value"], s["answers"][question]["version"]) for s in syncs] == [("4", 1)]
    assert syncs[0]["checksum"] == checksum(syncs[0]["answers"])
    assert stored(sitting.examinee_id) == {question: ("4", 1)}


def test_two_windows_the_servers_newer_copy_wins_and_the_other_window_follows(browser_context, sitting, platform):
    """Two windows of one examinee. A change made offline in the second at a version the first already
    stored is replaced on reconnect by the server's copy, with a notice, and never sent; the second
    window's next change goes above the server's version and the first window follows it."""
    # given: both windows open on an empty sheet; the second goes offline
    first = browser_context().new_page()
    sign_in(first, sitting)
    second_context = browser_context()
    second = second_context.new_page()
    second_frames = Frames(second)
    sign_in(second, sitting)
    question = sitting.questions[0].pk
    second_context.set_offline(True)
    expect(second.locator("#exam-app")).to_have_attribute("data-connection", "offline")
    # when: the first window answers 1 (stored); the offline second answers 2 at the same version 1
    first.locator("#question-0 label").nth(0).click()
    expect(status(first)).to_have_attribute("data-state", "committed", timeout=30_000)
    second.locator("#question-0 label").nth(1).click()
    expect(status(second)).to_have_attribute("data-unsent", "1")
    second_context.set_offline(False)
    # then: the server's copy wins in the second window, which says so and sends nothing
    expect(second.locator("#question-0 input[value='1']")).to_be_checked(timeout=15_000)
    notice = (
        f"문항 {sitting.questions[0].question_no}: "
        "다른 창이나 다른 기기에서 입력한 더 새로운 답안으로 이 화면의 변경이 바뀌었습니다."
    )
    expect(second.locator("#exam-alerts")).to_have_text(notice)
    expect(status(second)).to_have_attribute("data-state", "committed")
    assert second_frames.syncs() == []
    # when: the second window changes it again
    second.locator("#question-0 label").nth(2).click()
    # then: version 2 above the server's 1, stored; the first window shows it too
    expect(status(second)).to_have_attribute("data-state", "committed", timeout=30_000)
    expect(first.locator("#question-0 input[value='3']")).to_be_checked(timeout=15_000)
    assert second_frames.values(question) == [("3", 2)]
    assert stored(sitting.examinee_id) == {question: ("3", 2)}
    assert AnswerHistory.objects.filter(examinee_id=sitting.examinee_id).count() == 2


def test_the_countdown_runs_out_and_the_next_stage_brings_its_paper(browser_context, plan, stage, group, examinee):
    """A stage of a few seconds: the countdown from the server's deadline reaches "time is up"; when the
    deadline moves the examinee on (the beat's sweep), the page recovers the next stage's paper and
    its answers are stored under the new paper."""
    # given: stage 1 lasts 8 s, stage 2 follows with its own paper
    TestStage.objects.filter(pk=stage.pk).update(time_limit=8)
    second = factories.TestStageFactory(plan=plan, stage_order=2, time_limit=600)
    factories.QuestionFactory.create_batch(2, paper=second.test_code)
    off_loop(plan_start, plan=plan, actor="test")
    [(_, code)] = examinee_access_codes_issue(examinee_ids=[examinee.pk])
    page = browser_context().new_page()
    page.goto("/")
    page.locator("#plan-id").fill(plan.pk)
    page.locator("#examinee-id").fill(examinee.pk)
    page.locator("#access-code").fill(code)
    page.locator("#login-submit").click()
    expect(page.locator("#exam-app")).to_have_attribute("data-ready", "true")
    expect(page.locator("#exam-stage")).to_contain_text(stage.pk)
    expect(page.locator("#countdown")).to_have_attribute("data-seconds", re.compile(r"^\d+$"))  # the clock shown
    seconds = int(page.locator("#countdown").get_attribute("data-seconds"))
    # when: the time runs out, then the sweep moves the examinee on
    expect(page.locator("#countdown")).to_have_text("시간 종료", timeout=15_000)
    off_loop(stage_deadlines_enforce)
    # then
    expect(page.locator("#exam-stage")).to_contain_text(second.pk, timeout=15_000)
    expect(page.locator("#palette button")).to_have_count(2)
    expect(page.locator("#countdown")).to_have_attribute("data-seconds", re.compile(r"^(59\d|600)$"))
    page.locator("#question-0 label").nth(1).click()
    expect(status(page)).to_have_attribute("data-state", "committed", timeout=30_000)
    first_of_second = Question.objects.filter(paper_id=second.test_code_id).order_by("question_no").first()
    assert 0 < seconds <= 8
    assert stored(examinee.pk) == {first_of_second.pk: ("2", 1)}
