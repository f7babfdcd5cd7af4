"""Calls of one Lua script made at the same moment in an event loop, sent to Redis in one pipeline.

Every save is one EVALSHA of SYNC_APPLY (answers.services.sync). One by one, each took a
connection from the process's pool for its round trip, and its own write and read on the socket,
and a busy event loop holds a connection until it gets round to reading the reply: with 3,000
examinees saving on one daphne the 64 connections ran out and saves waited the pool's 2 s, then
failed with SYS-001 (docs/benchmarks.md, steady 5,000). Here the calls that arrive while earlier
pipelines are in flight wait and go together in the next pipeline (at most `max_size` each, at
most `in_flight` pipelines, so at most that many connections): one write and one read for many
saves. A call alone is its own pipeline at once, so a quiet server adds no wait.

Each EVALSHA is still atomic on its own and each caller still gets its own reply only after Redis
ran its script, so an `answer.ack` still follows the write. A script error is that caller's own
exception; a connection error fails every call of its pipeline, as it would have failed each alone.
A Redis that lost its scripts (restart, SCRIPT FLUSH) answers NOSCRIPT: the script is loaded and
those calls sent again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import redis

from exam_platform.batching import Batcher, loop_batch
from exam_platform.redis import redis_async_client

IN_FLIGHT = 4
MAX_SIZE = 200


class ScriptBatch(Batcher[tuple[Sequence[str], Sequence[Any]], Any]):
    """One Lua script's calls of one event loop, pipelined (see the module docstring)."""

    def __init__(
        self,
        source: str,
        *,
        client: Callable[[], redis.asyncio.Redis] = redis_async_client,
        in_flight: int = IN_FLIGHT,
        max_size: int = MAX_SIZE,
    ) -> None:
        super().__init__(in_flight=in_flight, max_size=max_size)
        self.source = source
        self.sha = _sha(source)
        self.client = client

    async def __call__(self, *, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """The script's reply for these keys and arguments; raises its error (redis.RedisError). A caller
        cancelled while its pipeline is in flight leaves its script run, as a lone call's would be."""
        return await self.call((keys, args))

    async def execute(self, calls: Sequence[tuple[Sequence[str], Sequence[Any]]]) -> list[Any]:
        client = self.client()
        replies = await self._pipeline(client, calls)
        lost = [index for index, reply in enumerate(replies) if isinstance(reply, redis.exceptions.NoScriptError)]
        if lost:
            await client.script_load(self.source)
            again = await self._pipeline(client, [calls[index] for index in lost])
            for index, reply in zip(lost, again, strict=True):
                replies[index] = reply
        return replies

    async def _pipeline(
        self, client: redis.asyncio.Redis, calls: Sequence[tuple[Sequence[str], Sequence[Any]]]
    ) -> list[Any]:
        pipe = client.pipeline(transaction=False)
        for keys, args in calls:
            pipe.evalsha(self.sha, len(keys), *keys, *args)
        return list(await pipe.execute(raise_on_error=False))


@cache
def _sha(source: str) -> str:
    return hashlib.sha1(source.encode("utf-8")).hexdigest()


def script_batch(source: str) -> ScriptBatch:
    """The running event loop's batch of the script `source` (one per script, loop and process; called
    on every save, so the script's name is hashed once per process, not per call)."""
    return loop_batch("script:" + _sha(source), lambda: ScriptBatch(source))
