"""Exam sockets' connects, recorded together: one trip to a database thread for the connects of
the same moment in an ASGI process, instead of one each.

A connect checks the page's token, records its SOCKET_SESSION row, marks the examinee connected
(beginning a waiting examinee's exam) and reads the examinee's context after the state epochs.
One by one that is a dozen PostgreSQL round trips and as many ORM calls per examinee, and in an
exam-start herd the process's database threads spent most of the time waiting for each other
(docs/benchmarks.md, the herd's profile). Here the connects that arrive while earlier ones are
being recorded wait together and go in the next batch: the tokens in one query, the rows in one
transaction of a fixed number of statements (plans.services.lifecycle.examinees_connect), the
epochs in one MGET, the contexts in one query. Alone, a connect is its own batch at once, so a
quiet server adds no wait.

A refusal (an invalid token, an examinee without progress) is that socket's own answer; an
error of the batch itself (the database is down) fails each of its sockets as a lone connect's
would have.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis

from exam_platform.db import db_async
from exam_platform.redis import redis_client
from monitoring.messages import CodedError, Msg
from plans.models import Examinee
from plans.services.lifecycle import exam_examinee_epoch_key, exam_group_epoch_key
from proctoring.models import SocketSession
from proctoring.services import ClientInfo, socket_session_close

from .selectors import ExamineeContext, examinee_contexts_get
from .services.session import examinee_sockets_open

logger = logging.getLogger(__name__)

# An epoch that never matches: the next save reads the context again (the epoch could not be read).
EPOCH_UNKNOWN = "?"
# The most connects in one batch, and the most batches on the database threads at once.
BATCH_MAX_SIZE = 50
BATCHES_RUNNING = 2


def epoch_format(values: Sequence[bytes | None]) -> str:
    """The (group, examinee) epochs as SYNC_APPLY compares them: "<group>|<examinee>"."""
    group, examinee = values
    return f"{(group or b'0').decode()}|{(examinee or b'0').decode()}"


def examinee_contexts_load(examinees: Sequence[tuple[str, str]]) -> dict[str, ExamineeContext]:
    """In a database thread: the contexts of (examinee, group) pairs, each read after its state
    epochs (one MGET), so that a change committed in between shows as a moved epoch at the next
    save, never as a missed one. The epoch is EPOCH_UNKNOWN when Redis does not answer or the
    examinee is no longer in that group; an examinee without progress is left out."""
    keys = []
    for examinee_id, group_id in examinees:
        keys += [exam_group_epoch_key(group_id), exam_examinee_epoch_key(examinee_id)]
    try:
        values = redis_client().mget(keys) if keys else []
        epochs = [epoch_format(values[i : i + 2]) for i in range(0, len(values), 2)]
    except redis.RedisError:
        epochs = [EPOCH_UNKNOWN] * len(examinees)
    contexts = examinee_contexts_get(examinee_ids=[examinee_id for examinee_id, _group in examinees])
    for (examinee_id, group_id), epoch in zip(examinees, epochs, strict=True):
        context = contexts.get(examinee_id)
        if context is not None:
            context.epoch = epoch if context.group_id == group_id else EPOCH_UNKNOWN
    return contexts


@dataclass(frozen=True)
class Ready:
    """A recorded exam socket: its examinee, its SOCKET_SESSION row and the examinee's context."""

    examinee: Examinee
    socket: SocketSession
    context: ExamineeContext


def exam_sockets_ready(sockets: Sequence[tuple[str, ClientInfo]]) -> list[Ready | CodedError]:
    """In a database thread: record (token, client) sockets together and read their contexts.
    Returns, in order, each socket's Ready or the CodedError that refuses it."""
    opened = examinee_sockets_open(sockets=sockets)
    pairs = [(item[0].examinee_id, item[0].group_id) for item in opened if not isinstance(item, CodedError)]
    contexts = examinee_contexts_load(pairs)
    results: list[Ready | CodedError] = []
    for item in opened:
        if isinstance(item, CodedError):
            results.append(item)
            continue
        examinee, socket = item
        context = contexts.get(examinee.examinee_id)
        if context is None:  # the examinee's progress row went away right after the connect
            socket_session_close(socket_id=socket.socket_id)
            results.append(CodedError(Msg.EXAM_NOT_FOUND, detail=f"examinee {examinee.examinee_id}"))
        else:
            results.append(Ready(examinee, socket, context))
    return results


class ConnectBatch:
    """The exam sockets of one event loop waiting to be recorded."""

    def __init__(
        self,
        *,
        record: Callable[[Sequence[tuple[str, ClientInfo]]], list[Ready | CodedError]] = exam_sockets_ready,
        running: int = BATCHES_RUNNING,
    ) -> None:
        self.record = record
        self.limit = running
        self.waiting: list[tuple[str, ClientInfo, asyncio.Future[Ready]]] = []
        self.running: set[asyncio.Task] = set()  # held here, or the loop could drop a running batch

    async def ready(self, token: str, info: ClientInfo) -> Ready:
        """Record this socket with the others of the moment; raise its CodedError when refused."""
        future: asyncio.Future[Ready] = asyncio.get_running_loop().create_future()
        self.waiting.append((token, info, future))
        self._start()
        return await future

    def _start(self) -> None:
        while self.waiting and len(self.running) < self.limit:
            batch, self.waiting = self.waiting[:BATCH_MAX_SIZE], self.waiting[BATCH_MAX_SIZE:]
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self.running.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self.running.discard(task)
        self._start()

    async def _run(self, batch: list[tuple[str, ClientInfo, asyncio.Future[Ready]]]) -> None:
        try:
            results = await db_async(self.record)([(token, info) for token, info, _future in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} answers for {len(batch)} connects")
        except Exception as exc:  # the batch failed as a whole: each socket fails as it would alone
            for _token, _info, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        orphans = []
        for (_token, _info, future), result in zip(batch, results, strict=True):
            if future.done():  # its socket's connect was cancelled meanwhile
                if isinstance(result, Ready):
                    orphans.append(result.socket.socket_id)
            elif isinstance(result, CodedError):
                future.set_exception(result)
            else:
                future.set_result(result)
        for socket_id in orphans:  # nobody will close these rows: close them now
            await db_async(socket_session_close)(socket_id=socket_id)


_batches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ConnectBatch] = weakref.WeakKeyDictionary()


def connect_batch() -> ConnectBatch:
    """The batch of the running event loop (one per loop and process; tests run several loops)."""
    loop = asyncio.get_running_loop()
    batch = _batches.get(loop)
    if batch is None:
        batch = _batches[loop] = ConnectBatch()
    return batch
