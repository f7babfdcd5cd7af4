"""exam_platform.redis_batch.ScriptBatch: a Lua script's calls of the same moment go in one pipeline.

On the real Redis of REDIS_URL (the test database, emptied around each test by redis_conn).
"""

import asyncio

import pytest
import redis

from exam_platform.redis import redis_async_client
from exam_platform.redis_batch import ScriptBatch, script_batch

# Appends ARGV[1] to the list KEYS[1] and returns its new length; refuses "bad".
APPEND = """
if ARGV[1] == 'bad' then return redis.error_reply('BAD refused') end
return redis.call('RPUSH', KEYS[1], ARGV[1])
"""


class CountingBatch(ScriptBatch):
    """Records the size of every pipeline it sends."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pipelines = []

    async def _pipeline(self, client, calls):
        self.pipelines.append(len(calls))
        return await super()._pipeline(client, calls)


@pytest.mark.asyncio
async def test_the_calls_of_a_moment_share_pipelines_and_each_gets_its_own_reply(redis_conn):
    """Forty concurrent calls, at most two pipelines in flight: far fewer pipelines than calls, every
    call's reply is its own, the refused one raises for its caller only, and every accepted write is in Redis."""
    # given: the script already loaded (a first call would be answered NOSCRIPT and sent again)
    await redis_async_client().script_load(APPEND)
    batch = CountingBatch(APPEND, in_flight=2)
    values = [f"v{i}" for i in range(40)]
    values[17] = "bad"
    # when
    replies = await asyncio.gather(
        *(batch(keys=[f"list:{i % 4}"], args=[value]) for i, value in enumerate(values)), return_exceptions=True
    )
    # then
    assert 2 <= len(batch.pipelines) < 10 and sum(batch.pipelines) == 40
    assert isinstance(replies[17], redis.ResponseError) and "BAD refused" in str(replies[17])
    accepted = [(i, reply) for i, reply in enumerate(replies) if i != 17]
    assert all(isinstance(reply, int) and reply >= 1 for _i, reply in accepted)
    stored = {key: redis_conn.lrange(f"list:{key}", 0, -1) for key in range(4)}
    assert sorted(v.decode() for items in stored.values() for v in items) == sorted(v for v in values if v != "bad")
    for key, items in stored.items():  # each reply is the length its own push made
        lengths = sorted(reply for i, reply in accepted if i % 4 == key)
        assert lengths == list(range(1, len(items) + 1))


@pytest.mark.asyncio
async def test_a_redis_that_lost_its_scripts_gets_them_again(redis_conn):
    """After SCRIPT FLUSH (as after a restart) the calls answered NOSCRIPT are sent again, once loaded."""
    batch = ScriptBatch(APPEND)
    assert await batch(keys=["list:a"], args=["one"]) == 1
    await redis_async_client().script_flush()
    # when
    replies = await asyncio.gather(*(batch(keys=["list:a"], args=[f"x{i}"]) for i in range(5)))
    # then
    assert sorted(replies) == [2, 3, 4, 5, 6]
    assert redis_conn.llen("list:a") == 6


@pytest.mark.asyncio
async def test_an_unreachable_redis_fails_every_call_of_the_pipeline():
    """A connection error reaches each caller as a redis error (the save path answers SYS-001), none hangs."""
    dead = redis.asyncio.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, socket_timeout=0.5)
    batch = ScriptBatch(APPEND, client=lambda: dead)
    replies = await asyncio.wait_for(
        asyncio.gather(*(batch(keys=["k"], args=[str(i)]) for i in range(6)), return_exceptions=True), timeout=10
    )
    assert all(isinstance(reply, redis.ConnectionError) for reply in replies), replies
    await dead.aclose()


@pytest.mark.asyncio
async def test_a_loop_has_one_batch_per_script():
    assert script_batch(APPEND) is script_batch(APPEND)
    assert script_batch(APPEND) is not script_batch(APPEND + " ")
