"""`answer.committed` doorbells: one PUBLISH per flush batch, fanned out to the sockets of each process."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async

from answers.keys import answer_committed_channel
from answers.services.flush import answer_queue_ensure, answer_queue_flush
from exam_platform.fanout import HANDLERS_PER_TURN, fanout
from tests.answers.helpers import exam_socket_connect, sync_message

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
def examinee_pair(examinee, make_examinees):
    """Two examinees of the fixture group (both begin with `open_exam` when it is requested after this)."""
    return [examinee, make_examinees(1, prefix="EY")[0]]


async def _tokens(examinees):
    from plans.services.access import examinee_access_codes_issue, examinee_token_issue

    def issue():
        examinee_access_codes_issue(examinee_ids=[e.pk for e in examinees])
        for e in examinees:
            e.refresh_from_db()
        return [examinee_token_issue(examinee=e) for e in examinees]

    return await database_sync_to_async(issue)()


async def _published(pubsub, seconds: float = 2.0) -> list[dict]:
    """Every batch published on the subscription within `seconds`."""
    batches = []
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        message = await asyncio.to_thread(pubsub.get_message, ignore_subscribe_messages=True, timeout=0.2)
        if message is not None:
            batches.append(json.loads(message["data"]))
    return batches


async def test_one_publish_per_batch_and_each_socket_hears_only_its_own(redis_conn, examinee_pair, open_exam,
                                                                         questions):  # fmt: skip
    # given: both examinees connected in this process, one change each queued
    answer_queue_ensure(redis_conn)
    first, second = examinee_pair
    sockets = [await exam_socket_connect(token) for token in await _tokens(examinee_pair)]
    q1, q2 = questions[0].pk, questions[1].pk
    paper = open_exam.test_code_id
    await sockets[0].send_json_to(sync_message(examinee=first, test_code=paper, changes={q1: ("1", 1)}))
    await sockets[1].send_json_to(sync_message(examinee=second, test_code=paper, changes={q2: ("2", 3)}))
    acks = [await socket.receive_json_from(timeout=5) for socket in sockets]
    listener = redis_conn.pubsub()
    listener.subscribe(answer_committed_channel())
    listener.get_message(timeout=1)  # the subscribe confirmation
    # when: one flush commits both in one batch
    result = await database_sync_to_async(answer_queue_flush)(consumer="test")
    received = [await socket.receive_json_from(timeout=5) for socket in sockets]
    batches = await _published(listener)
    # then
    assert [ack["accepted"] for ack in acks] == [{q1: 1}, {q2: 3}]
    assert result.committed == 2
    assert batches == [{first.pk: {q1: 1}, second.pk: {q2: 3}}]
    assert received == [
        {"type": "answer.committed", "versions": {q1: 1}},
        {"type": "answer.committed", "versions": {q2: 3}},
    ]
    assert [await socket.receive_nothing(timeout=0.3) for socket in sockets] == [True, True]
    listener.close()
    for socket in sockets:
        await socket.disconnect()


async def test_a_killed_subscription_comes_back_and_later_batches_arrive(redis_conn, examinee, open_exam, questions,
                                                                          token):  # fmt: skip
    # given: a connected socket whose process subscription is killed by the server
    answer_queue_ensure(redis_conn)
    socket = await exam_socket_connect(token)
    await socket.send_json_to({"type": "heartbeat"})
    await socket.receive_json_from(timeout=5)  # the connect (accept, then join) is over
    channel = fanout(answer_committed_channel())
    killed = _kill_client(redis_conn, channel.client_name)
    await _until(lambda: not channel.subscribed.is_set())
    await _until(channel.subscribed.is_set)
    # when: a change is saved and flushed after the subscription is back
    q1 = questions[0].pk
    await socket.send_json_to(sync_message(examinee=examinee, test_code=open_exam.test_code_id, changes={q1: ("4", 2)}))
    ack = await socket.receive_json_from(timeout=5)
    await database_sync_to_async(answer_queue_flush)(consumer="test")
    committed = await socket.receive_json_from(timeout=5)
    # then
    assert killed == 1
    assert ack["accepted"] == {q1: 2}
    assert committed == {"type": "answer.committed", "versions": {q1: 2}}
    assert _client_ids(redis_conn, channel.client_name) != []
    await socket.disconnect()


async def test_a_failing_handler_does_not_keep_the_batch_from_the_others(redis_conn):
    # given: two keys joined on a private channel, the first handler raising
    channel = fanout("test:fanout:failing")
    heard = []

    async def broken(payload):
        raise RuntimeError("page gone")

    async def working(payload):
        heard.append(payload)

    await channel.join("a", broken)
    await channel.join("b", working)
    # when
    delivered = await channel.deliver(json.dumps({"a": 1, "b": 2, "nobody": 3}))
    # then
    assert (delivered, heard) == (1, [2])
    channel.leave("a", broken)
    channel.leave("b", working)
    assert channel.task is None


async def test_a_large_batch_lets_the_event_loop_serve_others_while_it_rings(redis_conn):
    # given: more local sockets than one turn of the loop rings, and a save waiting to be served
    channel = fanout("test:fanout:turns")
    order = []
    handlers = []
    for number in range(HANDLERS_PER_TURN * 3):

        async def ring(payload, number=number):
            order.append(number)

        handlers.append(ring)
        await channel.join(str(number), ring)

    async def save():
        order.append("save")

    # when
    waiting = asyncio.get_running_loop().create_task(save())
    delivered = await channel.deliver(json.dumps({str(number): number for number in range(len(handlers))}))
    await waiting
    # then: every ring delivered, and the save served within the batch, not after it
    assert delivered == len(handlers)
    assert sorted(n for n in order if n != "save") == list(range(len(handlers)))
    assert 0 < order.index("save") <= HANDLERS_PER_TURN
    for number, ring in enumerate(handlers):
        channel.leave(str(number), ring)
    assert channel.task is None


async def test_a_socket_that_closes_while_a_batch_rings_is_not_rung(redis_conn):
    # given: the ring after the first turn belongs to a socket that closes during that turn
    channel = fanout("test:fanout:closing")
    heard = []
    handlers = []
    for number in range(HANDLERS_PER_TURN + 5):

        async def ring(payload, number=number):
            heard.append(number)

        handlers.append(ring)
        await channel.join(str(number), ring)
    closing = HANDLERS_PER_TURN - 1  # the 50th ring, the first after the yield

    async def close():
        channel.leave(str(closing), handlers[closing])

    # when
    leaving = asyncio.get_running_loop().create_task(close())
    delivered = await channel.deliver(json.dumps({str(number): number for number in range(len(handlers))}))
    await leaving
    # then
    assert closing not in heard
    assert delivered == len(heard) == len(handlers) - 1
    for number, ring in enumerate(handlers):
        channel.leave(str(number), ring)
    assert channel.task is None


def _client_ids(redis_conn, name: str) -> list[int]:
    return [client["id"] for client in redis_conn.client_list() if client.get("name") == name]


def _kill_client(redis_conn, name: str) -> int:
    return sum(redis_conn.client_kill_filter(_id=client_id) for client_id in _client_ids(redis_conn, name))


async def _until(condition, seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def test_while_redis_is_away_only_the_first_join_waits(settings, redis_conn):
    # given: the answer Redis unreachable (a closed port), a first socket joining a new subscription
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    channel = fanout("test:fanout:away")
    heard = []

    async def handler(payload):
        heard.append(payload)

    first = await channel.join("a", handler)
    # when: another socket connects while the subscription keeps retrying
    second = await asyncio.wait_for(channel.join("b", handler), 1.0)
    # then: neither is subscribed, and the second connect was not held up (no TimeoutError above)
    assert (first, second, channel.lost) == (False, False, True)
    channel.leave("a", handler)
    channel.leave("b", handler)
