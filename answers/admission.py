"""Admission of exam sockets: a bounded number of examinees getting ready at once in each process.

Getting ready is the connect (token, SOCKET_SESSION, the connect's transition, the context) and
the first `recover`, all on the process's few database threads, first come first served. When a
whole herd connects at once, every examinee's `recover` waits behind every other examinee's
connect, so all of them are answered late together and a page that waits 10 s for its reply gives
up: the bench's herd of 2,000 on one daphne once got 0 examinees ready in 65 s, with daphne busy.

The gate keeps that work short and in order, as a doorman does:
- at most `in_flight` examinees of the process are between their connect and their first
  `recover` reply at a time; the next ones wait in arrival order (their socket is open, their
  `recover` waits in the socket's inbox) and are told so with the wait to expect
  (`admission.wait`), so that the page waits that much longer for its reply;
- a newcomer whose expected wait (the queue over the gate's rate: its places over the time recent
  examinees took to get ready) is over `max_wait` seconds is refused at once with SYS-005 and a
  `retryAfter`, then the close code 4503 (from the private 4xxx range: autobahn, under daphne,
  refuses to send 1013 "try again later"). The retry times handed out are spread at that same rate
  (each refusal is told the moment after the queue and the others told before it), so the refused
  come back as the queue empties instead of all together. A refused page waits that long without
  counting a failure (static/exam/js/connection.js).

One gate per event loop (the process's ASGI loop; tests run several loops one after the other).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque
from collections.abc import Callable

from django.conf import settings

# Over how many recent holds the time an examinee takes to get ready is averaged.
HOLDS_KEPT = 200
# A socket holds its place at most this long after its connect (a page that never sends `recover`).
HOLD_SECONDS = 5.0
# The longest retryAfter handed out (a page then tries again; the gate hands out a fresh time).
RETRY_AFTER_MAX_SECONDS = 20.0


class AdmissionRefused(Exception):
    """The expected wait is too long: come back after `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(f"retry after {retry_after:.1f} s")


class AdmissionGate:
    """At most `in_flight` holders; the rest wait first in, first out, or are refused with a retry time."""

    def __init__(self, *, in_flight: int, max_wait: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.in_flight = max(1, in_flight)
        self.max_wait = max_wait
        self.clock = clock
        self.holders = 0
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.holds: deque[float] = deque(maxlen=HOLDS_KEPT)  # seconds from admission to leave
        self.promised: deque[float] = deque()  # retry times handed out, in rising order

    def rate(self) -> float:
        """Examinees the gate can let through per second when full: its places over the mean time
        a recent holder took to get ready (Little's law). Measured on the service, not on the
        arrivals, so that a quiet minute (the refused all waiting to come back) does not read as
        a slow server; before any holder has left, as if each took a second."""
        if not self.holds:
            return float(self.in_flight)
        return self.in_flight / max(0.01, sum(self.holds) / len(self.holds))

    def _has_room(self) -> bool:
        """A newcomer would be let in at once."""
        return self.holders < self.in_flight and not self.waiters

    def queue_wait(self) -> float:
        """0 when a newcomer would be let in at once, else the wait it can expect in line."""
        return 0.0 if self._has_room() else self.expected_wait()

    def expected_wait(self) -> float:
        """Seconds a newcomer would wait: everybody queued ahead, at the gate's rate."""
        return (len(self.waiters) + 1) / self.rate()

    async def enter(self) -> float:
        """Return the time admitted, once admitted (the caller then owes one `leave` with it); raise
        AdmissionRefused instead when the wait would be over `max_wait` seconds."""
        if self._has_room():
            self.holders += 1
            return self.clock()
        if self.expected_wait() > self.max_wait:
            raise AdmissionRefused(self._retry_after())
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.leave()  # the slot was handed over as the caller went away: pass it on
            else:
                self.waiters.remove(waiter)
            raise
        return self.clock()

    def leave(self, admitted_at: float | None = None) -> None:
        """One holder (admitted at `admitted_at`) is done: the first waiter still waiting takes over its slot."""
        if admitted_at is not None:
            self.holds.append(self.clock() - admitted_at)
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.holders = max(0, self.holders - 1)

    def _retry_after(self) -> float:
        """The moment after everybody queued and everybody told to come back before: as many
        places later as are promised and not yet due, at the gate's rate. A refused page that
        comes back and is refused again holds no old promise any more (its time has passed), so
        the promises follow the real demand instead of piling up."""
        now = self.clock()
        while self.promised and self.promised[0] <= now:
            self.promised.popleft()
        wait = min(RETRY_AFTER_MAX_SECONDS, (len(self.waiters) + 1 + len(self.promised)) / self.rate())
        self.promised.append(max(now + wait, self.promised[-1]) if self.promised else now + wait)
        return round(wait, 1)


_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AdmissionGate] = weakref.WeakKeyDictionary()


def admission_gate() -> AdmissionGate:
    """The running loop's gate, sized by EXAM_ADMISSION_IN_FLIGHT and EXAM_ADMISSION_MAX_WAIT_SECONDS."""
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = AdmissionGate(
            in_flight=settings.EXAM_ADMISSION_IN_FLIGHT, max_wait=settings.EXAM_ADMISSION_MAX_WAIT_SECONDS
        )
    return gate
