"""Heartbeats of an ASGI process's sockets, written to SOCKET_SESSION together.

A socket marks its heartbeat here (memory, no query); once every HEARTBEAT_WRITE_SECONDS one
task of the event loop writes every marked socket with one statement
(proctoring.services.socket_sessions_heartbeat). SESSION_STALE_SECONDS (90 s) stays well above
the write interval plus the pages' heartbeat interval (20-30 s), so a live socket is never
expired; a process that dies stops writing, and its sessions expire as before.
"""

from __future__ import annotations

import asyncio
import logging

from exam_platform.db import db_async

from .services import socket_sessions_heartbeat

logger = logging.getLogger(__name__)

HEARTBEAT_WRITE_SECONDS = 15.0


class HeartbeatBatch:
    """The sockets of one event loop whose heartbeat has not been written yet."""

    def __init__(self) -> None:
        self.pending: set[str] = set()
        self.task: asyncio.Task | None = None

    def mark(self, socket_id: str) -> None:
        self.pending.add(socket_id)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._write_forever())

    def forget(self, socket_id: str) -> None:
        self.pending.discard(socket_id)

    async def write(self) -> int:
        """Write every marked heartbeat now; on a database error they stay marked for the next round."""
        socket_ids, self.pending = list(self.pending), set()
        if not socket_ids:
            return 0
        try:
            return await db_async(socket_sessions_heartbeat)(socket_ids=socket_ids)
        except Exception:
            logger.warning("%d socket heartbeats not written; retrying", len(socket_ids), exc_info=True)
            self.pending.update(socket_ids)
            return 0

    async def _write_forever(self) -> None:
        while self.pending:
            await asyncio.sleep(HEARTBEAT_WRITE_SECONDS)
            await self.write()


_batches: dict[int, HeartbeatBatch] = {}


def heartbeat_batch() -> HeartbeatBatch:
    """The batch of the running event loop (one per loop and process)."""
    loop_id = id(asyncio.get_running_loop())
    batch = _batches.get(loop_id)
    if batch is None:
        batch = _batches[loop_id] = HeartbeatBatch()
    return batch
