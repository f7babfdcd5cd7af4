"""Database calls from an event loop (the sockets' consumers), spread over a few threads.

channels' `database_sync_to_async` runs every call of an ASGI process on one thread (asgiref's
thread-sensitive mode), so 2,000 sockets' connects, recoveries and context reads wait in one
line behind each other's PostgreSQL round trips (docs/benchmarks.md, the exam-start herd). The
functions these sockets call hold no thread-local state between calls (each is one service call,
its own transaction), so they may run on any thread: `db_async` runs them on a pool of
DATABASE_THREADS threads, each taking a connection from the process's PostgreSQL pool for the
call and giving it back after (close_old_connections, as channels does).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, Generic, TypeVar

from channels.db import DatabaseSyncToAsync
from django.conf import settings

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


@lru_cache(maxsize=1)
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings.DATABASE_THREADS, thread_name_prefix="db")


def db_async(func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` as an awaitable that runs on one of the database threads (see the module docstring)."""
    return DatabaseSyncToAsync(func, thread_sensitive=False, executor=_executor())


class DatabaseBatch(Generic[ItemT, ResultT]):
    """The calls of the same moment in one event loop, run together in one trip to a database thread.

    `run` takes the waiting items and returns, in order, each item's result or the exception that
    refuses it (that caller's own answer). The calls that arrive while `running` batches are on the
    threads wait and go together in the next (at most `max_size` each); a call alone is its own
    batch at once, so a quiet server adds no wait. An error of `run` itself fails each call of its
    batch, as a lone call's error would. `orphaned` gets, in a database thread, the results whose
    callers were cancelled meanwhile (to undo what nobody will).
    """

    def __init__(
        self,
        *,
        run: Callable[[Sequence[ItemT]], list[ResultT | Exception]],
        running: int = 2,
        max_size: int = 50,
        orphaned: Callable[[list[ResultT]], None] | None = None,
    ) -> None:
        self.run = run
        self.limit = running
        self.max_size = max_size
        self.orphaned = orphaned
        self.waiting: list[tuple[ItemT, asyncio.Future[ResultT]]] = []
        self.running: set[asyncio.Task] = set()  # held here, or the loop could drop a running batch

    async def call(self, item: ItemT) -> ResultT:
        """`item`'s result, run with the others of the moment; raises the exception that refuses it."""
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
            results = await db_async(self.run)([item for item, _future in batch])
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
        if orphans and self.orphaned is not None:
            await db_async(self.orphaned)(orphans)


_loop_batches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, DatabaseBatch]] = (
    weakref.WeakKeyDictionary()
)


def loop_batch(name: str, make: Callable[[], DatabaseBatch]) -> DatabaseBatch:
    """The running event loop's batch called `name`, made by `make` the first time (one per loop and
    process; tests run several loops)."""
    batches = _loop_batches.setdefault(asyncio.get_running_loop(), {})
    batch = batches.get(name)
    if batch is None:
        batch = batches[name] = make()
    return batch
