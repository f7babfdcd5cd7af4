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

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

from channels.db import DatabaseSyncToAsync
from django.conf import settings


@lru_cache(maxsize=1)
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings.DATABASE_THREADS, thread_name_prefix="db")


def db_async(func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` as an awaitable that runs on one of the database threads (see the module docstring)."""
    return DatabaseSyncToAsync(func, thread_sensitive=False, executor=_executor())
