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
quiet server adds no wait. The `recover` each page sends next is batched the same way: the caches
in one Redis round trip, ANSWER_DATA and QUESTION_METADATA in one query each.

A refusal (an invalid token, an examinee without progress) is that socket's own answer; an
error of the batch itself (the database is down) fails each of its sockets as a lone connect's
would have.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from django.utils import timezone

from exam_platform.batching import loop_batch
from exam_platform.db import DatabaseBatch
from exam_platform.redis import redis_client
from monitoring.messages import CodedError, Msg
from plans.models import Examinee
from plans.services.lifecycle import exam_examinee_epoch_key, exam_group_epoch_key
from proctoring.models import SocketSession
from proctoring.services import ClientInfo, socket_session_close, socket_sessions_close

from .selectors import ExamineeContext, examinee_contexts_get
from .services.recovery import answers_recover
from .services.session import examinee_sockets_open

logger = logging.getLogger(__name__)

# An epoch that never matches: the next save reads the context again (the epoch could not be read).
EPOCH_UNKNOWN = "?"
# The most connects in one batch, and the most batches on the database threads at once.
BATCH_MAX_SIZE = 50
BATCHES_RUNNING = 2
# The most socket closes in one batch (a close is a few rows, cheaper than a connect).
CLOSE_BATCH_MAX_SIZE = 200


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


def _orphans_close(readies: list[Ready]) -> None:
    """Close the rows of sockets whose connect was cancelled while their batch was recorded (nobody else will)."""
    socket_sessions_close(socket_ids=[ready.socket.socket_id for ready in readies])


class ConnectBatch(DatabaseBatch[tuple[str, ClientInfo], Ready]):
    """The exam sockets of one event loop waiting to be recorded (exam_platform.db.DatabaseBatch)."""

    def __init__(
        self,
        *,
        record: Callable[[Sequence[tuple[str, ClientInfo]]], list[Ready | CodedError]] = exam_sockets_ready,
        running: int = BATCHES_RUNNING,
    ) -> None:
        super().__init__(run=record, running=running, max_size=BATCH_MAX_SIZE, orphaned=_orphans_close)

    async def ready(self, token: str, info: ClientInfo) -> Ready:
        """Record this socket with the others of the moment; raise its CodedError when refused."""
        return await self.call((token, info))


def connect_batch() -> ConnectBatch:
    """The connect batch of the running event loop."""
    return loop_batch("connect", ConnectBatch)


def contexts_recover(contexts: Sequence[ExamineeContext]) -> list[dict[str, Any]]:
    """In a database thread: the recover.result of each context, read together (answers_recover)."""
    return answers_recover(contexts=contexts, now=timezone.now())


def recover_batch() -> DatabaseBatch[ExamineeContext, dict[str, Any]]:
    """The recover batch of the running event loop: the first `recover` of every socket of a herd
    follows its connect, so they come together too."""
    return loop_batch(
        "recover", lambda: DatabaseBatch(run=contexts_recover, running=BATCHES_RUNNING, max_size=BATCH_MAX_SIZE)
    )


def exam_sockets_close(socket_ids: Sequence[str]) -> list[None]:
    """In a database thread: close sockets' rows together (proctoring.services.socket_sessions_close)."""
    socket_sessions_close(socket_ids=socket_ids)
    return [None] * len(socket_ids)


def close_batch() -> DatabaseBatch[str, None]:
    """The socket closes of the running event loop: a hall whose network drops closes hundreds of
    sockets at once, and one transaction each kept the database threads busy for tens of seconds,
    the reconnects' connects waiting behind them."""
    return loop_batch(
        "close", lambda: DatabaseBatch(run=exam_sockets_close, running=BATCHES_RUNNING, max_size=CLOSE_BATCH_MAX_SIZE)
    )
