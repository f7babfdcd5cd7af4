"""The exam page's own modules, run in Chromium: the checksum agrees with the server's byte for byte, the
countdown is computed from the server's deadline and clock offset (right after the tab was hidden),
and the resend backoff grows with jitter."""

from __future__ import annotations

import pytest

from tests.answers.helpers import checksum

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -r requirements-dev.txt)")
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.browser]

TRICKY_ANSWERS = [
    {"Q1": {"value": "세종대왕", "version": 1, "updated": "2026-11-24T00:00:05.120Z"}},
    # NFD Hangul (decomposed jamo) is hashed as sent, never normalised
    {"Q1": {"value": "\u1112\u1161\u11ab\u1100\u1173\u11af", "version": 7, "updated": "2026-11-24T00:00:05Z"}},
    {"Q2": {"value": 'a"b\\c/d\n\t\r\b\f\u0001\u001f\u007f', "version": 3, "updated": "x"}},
    {"Q3": {"value": "😀 emoji and \u2028 \u2029 separators", "version": 1_000_000_000, "updated": "y"}},
    {"b": {"value": "", "version": 2, "updated": "z"}, "a": {"version": 1, "value": "é", "updated": "w"}},
    {"Z9": {"value": "x", "version": 1, "updated": "u"}, "é": {"value": "y", "version": 1, "updated": "v"}},
]


@pytest.fixture
def page(browser_context, platform):
    page = browser_context().new_page()
    page.goto("/")
    return page


@pytest.mark.parametrize("answers", TRICKY_ANSWERS)
def test_checksum_matches_the_servers(page, answers):
    """answersChecksum (crypto.subtle) and the plain-JavaScript fallback equal Python's checksum of the same answers."""
    # when
    subtle, fallback = page.evaluate(
        """async (answers) => {
          const m = await import("/static/exam/js/checksum.js");
          const text = m.canonicalJson(answers);
          return [await m.answersChecksum(answers), m.sha256HexFallback(new TextEncoder().encode(text))];
        }""",
        answers,
    )
    # then
    assert subtle == checksum(answers)
    assert fallback == checksum(answers)


def test_countdown_comes_from_the_deadline_and_the_offset_not_from_ticks(page):
    """A heartbeat sent at local 1,000 ms and answered at 1,400 ms with the server at 100,200 ms gives an
    offset of 99,000 ms; with the deadline 600 s after the server's time, the page shows 600 s at once,
    540 s a minute later and 240 s after six minutes hidden (no tick counted in between)."""
    # when
    shown = page.evaluate(
        """async () => {
          const { ServerClock, formatRemaining } = await import("/static/exam/js/clock.js");
          let now = 1400;
          const clock = new ServerClock({ now: () => now });
          const serverTime = new Date(100200).toISOString();
          clock.observe({ sentAt: 1000, receivedAt: 1400, serverTime, deadline: new Date(700200).toISOString() });
          const results = [clock.offsetMs, clock.remainingSeconds()];
          now += 60000;
          results.push(clock.remainingSeconds());
          now += 300000;
          results.push(clock.remainingSeconds(), formatRemaining(clock.remainingSeconds()));
          now += 10 * 60000;
          results.push(clock.remainingSeconds());
          return results;
        }"""
    )
    # then
    assert shown == [99_000, 600, 540, 240, "04:00", 0]


def test_countdown_keeps_the_most_precise_offset_and_stands_still_while_paused(page):
    """The sample with the shortest round trip wins; a paused clock shows its frozen remaining time."""
    # when
    shown = page.evaluate(
        """async () => {
          const { ServerClock, formatRemaining } = await import("/static/exam/js/clock.js");
          let now = 10000;
          const clock = new ServerClock({ now: () => now });
          const at = (ms) => new Date(ms).toISOString();
          clock.observe({ sentAt: 8000, receivedAt: 10000, serverTime: at(5000), deadline: at(65000) });
          const slow = clock.offsetMs;
          clock.observe({ sentAt: 9900, receivedAt: 10000, serverTime: at(5050), deadline: at(65000) });
          const fast = clock.offsetMs;
          clock.observe({ sentAt: 9000, receivedAt: 10000, serverTime: at(9999), deadline: at(65000) });
          const kept = clock.offsetMs;
          clock.setDeadline({ serverTime: at(6000), deadline: null, remainingSeconds: 42, paused: true });
          now += 30000;
          return [slow, fast, kept, clock.remainingSeconds(), formatRemaining(3725), formatRemaining(null)];
        }"""
    )
    # then
    assert shown == [-4000, -4900, -4900, 42, "1:02:05", "--:--"]


def test_backoff_doubles_with_jitter_up_to_its_cap(page):
    """Delay n lies in [d/2, d] with d = min(cap, base * 2^n): never zero, never in lock-step."""
    # when
    delays = page.evaluate(
        """async () => {
          const { backoffDelay } = await import("/static/exam/js/connection.js");
          const low = [0, 1, 2, 3, 10].map((n) => backoffDelay(n, { baseMs: 500, capMs: 30000, random: () => 0 }));
          const high = [0, 1, 2, 3, 10].map((n) => backoffDelay(n, { baseMs: 500, capMs: 30000, random: () => 1 }));
          return [low, high];
        }"""
    )
    # then
    assert delays == [[250, 500, 1000, 2000, 15000], [500, 1000, 2000, 4000, 30000]]


REFUSING_SERVER = """async ({ closeCode, message, tries }) => {
  const { Connection } = await import("/static/exam/js/connection.js");
  const opened = [];
  class RefusingSocket {
    static OPEN = 1;
    constructor() {
      opened.push(performance.now());
      this.readyState = 0;
      setTimeout(() => {
        this.readyState = 1;
        if (this.onopen) this.onopen();
        if (message) this.onmessage({ data: JSON.stringify(message) });
        this.readyState = 3;
        this.onclose({ code: closeCode });
      }, 0);
    }
    send() {}
    close() {}
  }
  window.WebSocket = RefusingSocket;
  const states = [];
  const connection = new Connection({
    wsUrl: "ws://refusing.invalid/", syncUrl: "/none", recoverUrl: "/none",
    onOpen() {}, onUnsolicited() {}, onState(state) { states.push(state); }, random: () => 0.5,
  });
  connection.start();
  while (opened.length < tries) await new Promise((resolve) => setTimeout(resolve, 20));
  const gaps = opened.slice(1).map((when, i) => Math.round(when - opened[i]));
  return { failures: connection.failures, fallback: connection.fallback, state: connection.state,
           busy: connection.busyUntil > 0, gaps };
}"""


def test_a_busy_server_is_waited_out_for_the_time_it_gives_without_counting_failures(page):
    """SYS-005 {retryAfter: 0.4} then close 4503, five times: each next try comes after the 0.4 s given
    (random 0.5: no jitter), no failure is counted and the page never falls back to HTTP; the same closes
    without the refusal (1006) count failures and reach the HTTP fallback after three."""
    # when
    busy = page.evaluate(
        REFUSING_SERVER,
        {"closeCode": 4503, "message": {"type": "error", "code": "SYS-005", "retryAfter": 0.4}, "tries": 5},
    )
    page.reload()
    broken = page.evaluate(REFUSING_SERVER, {"closeCode": 1006, "message": None, "tries": 3})
    # then
    assert (busy["failures"], busy["fallback"], busy["state"], busy["busy"]) == (0, False, "connecting", True)
    assert all(390 <= gap <= 600 for gap in busy["gaps"]), busy["gaps"]
    assert (broken["failures"], broken["fallback"]) == (3, True)


LINE_SERVER = """async ({ notice }) => {
  const { Connection } = await import("/static/exam/js/connection.js");
  window.opened = 0;
  window.lost = 0;
  class LineSocket {
    static OPEN = 1;
    constructor() {
      window.opened += 1;
      this.readyState = 0;
      setTimeout(() => {
        this.readyState = 1;
        if (this.onopen) this.onopen();
        if (notice) this.onmessage({ data: JSON.stringify(notice) });
      }, 0);
    }
    send() {}
    close() { this.readyState = 3; }
  }
  window.WebSocket = LineSocket;
  const connection = new Connection({
    wsUrl: "ws://line.invalid/", syncUrl: "/none", recoverUrl: "/none",
    onOpen() { connection.request({ type: "recover" }).catch(() => { window.lost += 1; }); },
    onUnsolicited() {}, onState() {}, random: () => 0.5,
  });
  connection.start();
}"""


@pytest.mark.parametrize(
    "notice", [{"type": "admission.wait", "expectedSeconds": 20}, None], ids=["told-to-wait-in-line", "not-told"]
)
def test_a_page_told_it_waits_in_line_waits_that_much_longer_for_its_reply(page, notice):
    """admission.wait {expectedSeconds: 20} right after the open: the unanswered recover is given up only
    after 20 s × 1.5 + the usual 10 s, so at 30 s the page still waits on its first socket and at 45 s it
    has reconnected; without the notice it reconnects after the usual 10 s."""
    # given
    page.clock.install()
    page.evaluate(LINE_SERVER, {"notice": notice})
    # when
    page.clock.run_for(30_000)
    at_30 = page.evaluate("[window.opened, window.lost]")
    page.clock.run_for(15_000)
    at_45 = page.evaluate("[window.opened, window.lost]")
    # then
    if notice:
        assert at_30 == [1, 0]  # still waiting on the first socket
    else:
        assert at_30[0] >= 2 and at_30[1] >= 1  # given up after 10 s, as always
    assert at_45[0] >= 2 and at_45[1] >= 1
