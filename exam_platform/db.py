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

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

from channels.db import DatabaseSyncToAsync
from django.conf import settings
from django.db import connection
from django.db.models import Model

from exam_platform.batching import Batcher, ItemT, ResultT


@lru_cache(maxsize=1)
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings.DATABASE_THREADS, thread_name_prefix="db")


def db_async(func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` as an awaitable that runs on one of the database threads (see the module docstring)."""
    return DatabaseSyncToAsync(func, thread_sensitive=False, executor=_executor())


class DatabaseBatch(Batcher[ItemT, ResultT]):
    """Calls of the same moment in one event loop, run together in one trip to a database thread
    (exam_platform.batching). `run` takes the waiting items and returns, in order, each item's
    result or the exception that refuses it; `orphaned` gets, in a database thread, the results
    whose callers were cancelled meanwhile (to undo what nobody will)."""

    def __init__(
        self,
        *,
        run: Callable[[Sequence[ItemT]], list[ResultT | Exception]],
        running: int = 2,
        max_size: int = 50,
        orphaned: Callable[[list[ResultT]], None] | None = None,
    ) -> None:
        super().__init__(in_flight=running, max_size=max_size)
        self.run = run
        self.undo = orphaned

    async def execute(self, items: Sequence[ItemT]) -> list[ResultT | Exception]:
        return await db_async(self.run)(items)

    async def orphaned(self, results: list[ResultT]) -> None:
        if self.undo is not None:
            await db_async(self.undo)(results)


def rows_update(objs: Sequence[Model], *, fields: Sequence[str]) -> None:
    """Save `fields` of `objs` (rows of one model) in one UPDATE.

    On PostgreSQL one `UPDATE ... FROM unnest(<one array per column>)`: Django's `bulk_update`
    builds a `CASE WHEN pk = ... THEN ...` expression per row and field in Python, which was a fifth
    of an ASGI process's samples in an exam-start herd (50 connects a batch). Elsewhere (SQLite of
    `make run`) `bulk_update`.
    """
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(objs, fields=list(fields))
        return
    meta = model._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    arrays = [[column.get_db_prep_save(getattr(obj, column.attname), connection) for obj in objs] for column in columns]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(column.column)} = v.{quote(column.column)}" for column in columns[1:])
    unnest = ", ".join(f"%s::{column.cast_db_type(connection) or column.db_type(connection)}[]" for column in columns)
    names = ", ".join(quote(column.column) for column in columns)
    pk = quote(meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(meta.db_table)} AS t SET {assignments} FROM unnest({unnest}) AS v({names}) "
            f"WHERE t.{pk} = v.{pk}",
            arrays,
        )
