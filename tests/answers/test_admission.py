"""The exam socket's admission gate (answers.admission): a bounded number of examinees getting ready at
once per process, the rest in line in arrival order, and a newcomer with too long a wait told when to
come back (SYS-005, close 4503) with retry times spread at the rate the gate lets examinees through."""

import asyncio

import pytest

from answers.admission import AdmissionGate, AdmissionRefused
from monitoring.messages import Msg
from proctoring.models import SocketSession
from tests.answers.helpers import exam_socket_connect

pytestmark = pytest.mark.asyncio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_gate_lets_in_flight_through_and_hands_places_over_in_arrival_order():
    """Two places: the third and fourth wait, and each leave lets in the one that came first."""
    # given
    gate = AdmissionGate(in_flight=2, max_wait=60)
    await gate.enter()
    await gate.enter()
    third = asyncio.create_task(gate.enter())
    fourth = asyncio.create_task(gate.enter())
    await asyncio.sleep(0)
    # when / then
    assert (third.done(), fourth.done()) == (False, False)
    gate.leave()
    await asyncio.sleep(0)
    assert (third.done(), fourth.done()) == (True, False)
    gate.leave()
    await asyncio.sleep(0)
    assert fourth.done()
    assert gate.holders == 2
    gate.leave()
    gate.leave()
    assert gate.holders == 0


async def test_a_waiter_that_goes_away_passes_its_place_on():
    """A waiter cancelled in line leaves the line; one cancelled just as its place came gives it to the next."""
    # given
    gate = AdmissionGate(in_flight=1, max_wait=60)
    await gate.enter()
    gone = asyncio.create_task(gate.enter())
    handed = asyncio.create_task(gate.enter())
    last = asyncio.create_task(gate.enter())
    await asyncio.sleep(0)
    # when
    gone.cancel()
    await asyncio.sleep(0)
    gate.leave()  # the place goes to `handed`, which is cancelled before it runs again
    handed.cancel()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    # then
    assert gone.cancelled() and handed.cancelled()
    assert last.done() and last.exception() is None
    assert (gate.holders, len(gate.waiters)) == (1, 0)


async def test_refusals_come_with_retry_times_spread_at_the_gates_rate():
    """Four places and recent examinees ready in 0.8 s each: the gate lets 5 a second through. With 7 in
    line a newcomer would wait 1.6 s (over the 1.5 allowed), so the next ones are told 1.6, 1.8, 2.0, 2.2 s:
    one place apart, so they come back as the line empties, not together; once those times have
    passed they are no longer counted."""
    # given
    clock = Clock()
    gate = AdmissionGate(in_flight=4, max_wait=1.5, clock=clock)
    admitted = [await gate.enter() for _ in range(4)]
    clock.now += 0.8
    for when in admitted:
        gate.leave(when)
    held = [await gate.enter() for _ in range(4)]
    waiting = [asyncio.create_task(gate.enter()) for _ in range(7)]
    await asyncio.sleep(0)
    # when
    retries = []
    for _ in range(4):
        with pytest.raises(AdmissionRefused) as refused:
            await gate.enter()
        retries.append(refused.value.retry_after)
    clock.now += 5
    with pytest.raises(AdmissionRefused) as later:
        await gate.enter()
    # then
    assert gate.rate() == pytest.approx(5.0)
    assert retries == [1.6, 1.8, 2.0, 2.2]
    assert later.value.retry_after == 1.6
    assert len(held) == 4
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)


@pytest.mark.django_db(transaction=True)
async def test_a_busy_process_refuses_with_sys_005_then_lets_the_next_in_once_a_place_is_free(
    settings, redis_conn, examinee, open_exam, questions, token
):
    """One place: the first socket holds it until its recover is answered; a second socket meanwhile
    gets SYS-005 with retryAfter and close 4503, and no SOCKET_SESSION row; after the first's recover
    a third socket of the same examinee is let in and recovers."""
    # given
    settings.EXAM_ADMISSION_IN_FLIGHT = 1
    settings.EXAM_ADMISSION_MAX_WAIT_SECONDS = 0.5
    first = await exam_socket_connect(token)
    # when
    refused = await exam_socket_connect(token)
    busy = await refused.receive_json_from(timeout=5)
    closed = await refused.receive_output(timeout=5)
    await first.send_json_to({"type": "recover"})
    first_recovered = await first.receive_json_from(timeout=5)
    third = await exam_socket_connect(token)
    await third.send_json_to({"type": "recover"})
    third_recovered = await third.receive_json_from(timeout=5)
    sockets = await asyncio.to_thread(lambda: SocketSession.objects.filter(user_id=examinee.pk).count())
    # then
    assert (busy["type"], busy["code"]) == ("error", Msg.SYSTEM_BUSY.code)
    assert 0 < busy["retryAfter"] <= 60
    assert closed == {"type": "websocket.close", "code": 4503, "reason": Msg.SYSTEM_BUSY.code}
    assert first_recovered["type"] == third_recovered["type"] == "recover.result"
    assert sockets == 2
    await first.disconnect()
    await third.disconnect()
    await refused.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_socket_in_line_is_answered_after_the_one_ahead_is_ready(
    settings, redis_conn, examinee, open_exam, questions, token
):
    """One place and a long allowed wait: the second socket is told it waits in line (admission.wait with
    the wait to expect); its recover waits in its inbox until the first socket's recover is answered, then
    it is answered too (in line, not refused)."""
    # given
    settings.EXAM_ADMISSION_IN_FLIGHT = 1
    settings.EXAM_ADMISSION_MAX_WAIT_SECONDS = 30
    first = await exam_socket_connect(token)
    second = await exam_socket_connect(token)
    notice = await second.receive_json_from(timeout=5)
    # when
    await second.send_json_to({"type": "recover"})
    waited = await second.receive_nothing(timeout=0.5)
    await first.send_json_to({"type": "recover"})
    first_recovered = await first.receive_json_from(timeout=5)
    second_recovered = await second.receive_json_from(timeout=5)
    # then
    assert notice["type"] == "admission.wait"
    assert 0 < notice["expectedSeconds"] <= 30
    assert waited
    assert first_recovered["type"] == second_recovered["type"] == "recover.result"
    await first.disconnect()
    await second.disconnect()
