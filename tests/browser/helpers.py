"""What the browser tests do the way an examinee (or the page) does: sign in, move, watch the frames."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import connections

from answers.models import AnswerData

if TYPE_CHECKING:
    from playwright.sync_api import Page

DOORBELLS = {"answer.committed", "exam.state", "exam.clock"}
T = TypeVar("T")


def off_loop(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run `function` in a thread of its own and return its result.

    Playwright's sync API keeps an asyncio loop running in the test thread, and asgiref's
    async_to_sync (the channel layer, the lifecycle's doorbells) refuses to run in a thread with a
    running loop. The thread's database connection is closed before it ends.
    """

    def run() -> T:
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(run).result()


class Frames:
    """Every WebSocket frame the page sent and received, parsed."""

    def __init__(self, page: Page) -> None:
        self.sent: list[dict] = []
        self.received: list[dict] = []
        self.log: list[tuple[str, dict]] = []
        page.on("websocket", self._attach)

    def _attach(self, socket) -> None:
        socket.on("framesent", lambda payload: self._add("sent", self.sent, payload))
        socket.on("framereceived", lambda payload: self._add("received", self.received, payload))

    def _add(self, direction: str, frames: list[dict], payload: str) -> None:
        frame = json.loads(payload)
        frames.append(frame)
        self.log.append((direction, frame))

    def reply_to(self, message_type: str) -> dict:
        """The server's reply to the last message of `message_type`: the next received frame that is not a doorbell."""
        start = max(i for i, (direction, f) in enumerate(self.log) if direction == "sent" and f["type"] == message_type)
        return next(f for direction, f in self.log[start:] if direction == "received" and f["type"] not in DOORBELLS)

    def syncs(self, question_id: str | None = None) -> list[dict]:
        return [
            f for f in self.sent if f["type"] == "answer.sync" and (question_id is None or question_id in f["answers"])
        ]

    def values(self, question_id: str) -> list[tuple[str, int]]:
        return [
            (f["answers"][question_id]["value"], f["answers"][question_id]["version"]) for f in self.syncs(question_id)
        ]


def sign_in(page: Page, sitting, *, keyboard_only: bool = False) -> None:
    """Sign in on GET / and wait until the exam page has recovered the sheet from the server."""
    from playwright.sync_api import expect

    page.goto("/")
    if keyboard_only:
        page.locator("#plan-id").focus()
        page.keyboard.type(sitting.plan_id)
        page.keyboard.press("Tab")
        page.keyboard.type(sitting.examinee_id)
        page.keyboard.press("Tab")
        page.keyboard.type(sitting.access_code)
        page.keyboard.press("Enter")
    else:
        page.locator("#plan-id").fill(sitting.plan_id)
        page.locator("#examinee-id").fill(sitting.examinee_id)
        page.locator("#access-code").fill(sitting.access_code)
        page.locator("#login-submit").click()
    page.wait_for_url("**/exam/")
    expect(page.locator("#exam-app")).to_have_attribute("data-ready", "true")
    expect(page.locator("#exam-app")).to_have_attribute("data-connection", "open")


def go_to_question(page: Page, number: int) -> None:
    """Open question `number` (1-based) from the palette with the keyboard."""
    from playwright.sync_api import expect

    page.locator("#palette button").nth(number - 1).focus()
    page.keyboard.press("Enter")
    expect(page.locator(f"#question-{number - 1}")).to_be_visible()


def status(page: Page):
    return page.locator("#save-status")


def stored(examinee_id: str) -> dict[str, tuple[str, int]]:
    return {
        row.question_id: (row.answer_value, row.version) for row in AnswerData.objects.filter(examinee_id=examinee_id)
    }


def eventually(read: Callable[[], T], expected: T, *, timeout: float = 20.0) -> T:
    """`read()` once it equals `expected` (polled), or its last value after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    value = read()
    while value != expected and time.monotonic() < deadline:
        time.sleep(0.2)
        value = read()
    return value
