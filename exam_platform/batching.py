"""Calls of the same moment in one event loop, carried out together (the one batching rule).

The calls that arrive while `in_flight` batches are being carried out wait and go together in the
next (at most `max_size` each); a call alone is its own batch at once, so a quiet server adds no
wait. `execute` returns, in order, each item's result or the exception that refuses it (that
caller's own answer); an error of `execute` itself fails each call of its batch, as a lone call's
error would. `orphaned` gets the results whose callers were cancelled while their batch ran.

Used for the database (exam_platform.db.DatabaseBatch: connects, recovers) and for Redis
(exam_platform.redis_batch.ScriptBatch: saves).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


class Batcher(Generic[ItemT, ResultT]):
    """The batching of one kind of call in one event loop; subclasses say how a batch is carried out."""

    def __init__(self, *, in_flight: int, max_size: int) -> None:
        self.limit = in_flight
        self.max_size = max_size
        self.waiting: list[tuple[ItemT, asyncio.Future[ResultT]]] = []
        self.running: set[asyncio.Task] = set()  # held here, or the loop could drop a batch in flight

    async def execute(self, items: Sequence[ItemT]) -> list[ResultT | Exception]:
        raise NotImplementedError

    async def orphaned(self, results: list[ResultT]) -> None:
        """Results whose callers left while their batch ran; nothing to undo by default."""

    async def call(self, item: ItemT) -> ResultT:
        """`item`'s result, carried out with the others of the moment; raises the exception that refuses it."""
        future: asyncio.Future[ResultT] = asyncio.get_running_loop().create_future()
        self.waiting.append((item, future))
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

    async def _run(self, batch: list[tuple[ItemT, asyncio.Future[ResultT]]]) -> None:
        try:
            results = await self.execute([item for item, _future in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for {len(batch)} calls")
        except Exception as exc:  # the batch failed as a whole: each call fails as it would alone
            for _item, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        orphans = []
        for (_item, future), result in zip(batch, results, strict=True):
            if future.done():  # its caller was cancelled meanwhile
                if not isinstance(result, Exception):
                    orphans.append(result)
            elif isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
        if orphans:
            await self.orphaned(orphans)


_loop_batches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Batcher]] = weakref.WeakKeyDictionary()

BatcherT = TypeVar("BatcherT", bound=Batcher)


def loop_batch(name: str, make: Callable[[], BatcherT]) -> BatcherT:
    """The running event loop's batch called `name`, made by `make` the first time (one per loop and
    process; tests run several loops)."""
    loop = asyncio.get_running_loop()
    batches = _loop_batches.get(loop)
    if batches is None:
        batches = _loop_batches[loop] = {}
    batch = batches.get(name)
    if batch is None:
        batch = batches[name] = make()
    return batch  # type: ignore[return-value]
