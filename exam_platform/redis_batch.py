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

import asyncio
import hashlib
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import redis

from exam_platform.redis import redis_async_client

IN_FLIGHT = 4
MAX_SIZE = 200

Call = tuple[Sequence[str], Sequence[Any], "asyncio.Future[Any]"]


class ScriptBatch:
    """One Lua script's calls of one event loop, pipelined (see the module docstring)."""

    def __init__(
        self,
        source: str,
        *,
        client: Callable[[], redis.asyncio.Redis] = redis_async_client,
        in_flight: int = IN_FLIGHT,
        max_size: int = MAX_SIZE,
    ) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode("utf-8")).hexdigest()
        self.client = client
        self.limit = in_flight
        self.max_size = max_size
        self.waiting: list[Call] = []
        self.running: set[asyncio.Task] = set()  # held here, or the loop could drop a pipeline in flight

    async def __call__(self, *, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """The script's reply for these keys and arguments; raises its error (redis.RedisError)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting.append((keys, args, future))
        self._start()
        return await future

    def _start(self) -> None:
        while self.waiting and len(self.running) < self.limit:
            batch, self.waiting = self.waiting[: self.max_size], self.waiting[self.max_size :]
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self.running.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self.running.discard(task)
        self._start()

    async def _run(self, batch: list[Call]) -> None:
        try:
            replies = await self._send([(keys, args) for keys, args, _future in batch])
        except Exception as exc:  # the pipeline failed as a whole: each call fails as it would alone
            for _keys, _args, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_keys, _args, future), reply in zip(batch, replies, strict=True):
            if future.done():  # its caller was cancelled; the script ran, as a lone call's would have
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def _send(self, calls: list[tuple[Sequence[str], Sequence[Any]]]) -> list[Any]:
        client = self.client()
        replies = await self._pipeline(client, calls)
        lost = [index for index, reply in enumerate(replies) if isinstance(reply, redis.exceptions.NoScriptError)]
        if lost:
            await client.script_load(self.source)
            again = await self._pipeline(client, [calls[index] for index in lost])
            for index, reply in zip(lost, again, strict=True):
                replies[index] = reply
        return replies

    async def _pipeline(self, client: redis.asyncio.Redis, calls: list[tuple[Sequence[str], Sequence[Any]]]) -> list:
        pipe = client.pipeline(transaction=False)
        for keys, args in calls:
            pipe.evalsha(self.sha, len(keys), *keys, *args)
        return list(await pipe.execute(raise_on_error=False))


_batches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, ScriptBatch]] = weakref.WeakKeyDictionary()


def script_batch(source: str) -> ScriptBatch:
    """The running event loop's batch of the script `source` (one per script, loop and process)."""
    batches = _batches.setdefault(asyncio.get_running_loop(), {})
    batch = batches.get(source)
    if batch is None:
        batch = batches[source] = ScriptBatch(source)
    return batch
