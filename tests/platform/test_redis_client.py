"""exam_platform.redis: the asyncio client of the answer Redis packs commands with hiredis.

On the real Redis of REDIS_URL (the test database, emptied around each test by redis_conn).
"""

import pytest
import redis.asyncio

from exam_platform.redis import HiredisPackedConnection, redis_async_client

ARGUMENTS = [
    ("EVALSHA", "a" * 40, 2, "exam:P:test:T:user:U", "stream:answers:normal", b'{"a":1}', "광합성", 12, 1.5),
    ("SCRIPT LOAD", "return 1"),
    (b"CLIENT SETNAME", b"x"),
    ("SET", "key", memoryview(b"abc")),
]


@pytest.mark.parametrize("args", ARGUMENTS)
def test_the_packed_bytes_are_redis_pys_own(args):
    """The same protocol bytes as redis-py's Python packer, two-word commands and odd types included."""
    assert b"".join(HiredisPackedConnection().pack_command(*args)) == b"".join(
        redis.asyncio.Connection().pack_command(*args)
    )


@pytest.mark.asyncio
async def test_the_answer_client_uses_it_and_round_trips_text_and_numbers(redis_conn):
    """The process's client packs with hiredis, and what it writes reads back the same (Korean text, a
    Lua script with numbers, a pipeline)."""
    client = redis_async_client()
    assert client.connection_pool.connection_class is HiredisPackedConnection
    # when
    await client.hset("sheet", mapping={"a:Q1": "광합성은 빛 에너지를 바꾼다", "v:Q1": 3})
    reply = await client.eval("return redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])", 1, "sheet", "v:Q1", 2)
    async with client.pipeline(transaction=False) as pipe:
        pipe.hget("sheet", "a:Q1")
        pipe.hget("sheet", "v:Q1")
        values = await pipe.execute()
    # then
    assert reply == 5
    assert [value.decode() for value in values] == ["광합성은 빛 에너지를 바꾼다", "5"]
    assert redis_conn.hget("sheet", "a:Q1").decode() == "광합성은 빛 에너지를 바꾼다"
