"""Applying an examinee's answer changes to the hot cache and the answer queue (seed 000, 3.1 steps 2-3).

One Lua script (answers.redis_scripts.SYNC_APPLY) checks each question's version, writes the
cache hash (structure 4.2) and appends the accepted changes to the answer stream, atomically;
only after it returns is `answer.ack` sent. Redis errors (unreachable, out of memory) become a
coded error and never an ack. Versions only move forward:

- a higher version than the cache holds is accepted;
- the same version with the same value is a duplicate, acknowledged again, stored once;
- a lower version, or the same version with another value, is stale: answered with the
  server's version.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import redis
from django.conf import settings

from exam_platform.redis_batch import script_batch
from monitoring.messages import CodedError, Msg
from plans.services.lifecycle import exam_examinee_epoch_key, exam_group_epoch_key

from ..keys import answer_cache_key, answer_stream_for
from ..redis_scripts import SYNC_APPLY, script
from ..selectors import ExamineeContext
from .protocol import SyncMessage

EARLY_FLUSH_BACKLOG = 5000
EARLY_FLUSH_EVERY_SECONDS = 1.0


class ContextOutdated(Exception):
    """The group's state changed after the examinee context was read (SYNC_APPLY answered EPOCH);
    nothing was written. The caller reads the context again and retries."""


@dataclass
class SyncResult:
    """What `answer.ack` reports: accepted {q: version}, stale {q: server version}, rejected {q: code}."""

    seq: int
    accepted: dict[str, int] = field(default_factory=dict)
    stale: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    stream_id: str = ""
    backlog: int = 0

    @property
    def needs_early_flush(self) -> bool:
        """The queue has grown past what the periodic flush drains comfortably. The caller rings the
        flush only when `early_flush_bell.due()` too (at most once a second per process)."""
        return self.backlog >= EARLY_FLUSH_BACKLOG

    def as_ack(self) -> dict[str, Any]:
        return {
            "type": "answer.ack",
            "seq": self.seq,
            "accepted": self.accepted,
            "stale": self.stale,
            "rejected": self.rejected,
        }


class EarlyFlushBell:
    """At most one early flush ring per process per `every` seconds.

    While the queue is over EARLY_FLUSH_BACKLOG every save sees it; a ring per save queued a flush
    task for each (thousands a second at load), and the worker spent its time draining tasks that
    found the queue already taken. One ring starts a flush that drains up to its time budget; the
    beat's ring every second remains the floor.
    """

    def __init__(self, every: float = EARLY_FLUSH_EVERY_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self.clock = clock
        self.rung_at = -math.inf

    def due(self) -> bool:
        now = self.clock()
        if now - self.rung_at < self.every:
            return False
        self.rung_at = now
        return True


early_flush_bell = EarlyFlushBell()


@dataclass(frozen=True)
class PreparedSync:
    """A validated message turned into the script's keys and arguments."""

    result: SyncResult
    keys: list[str]
    args: list[str | bytes]
    question_ids: list[str]
    versions: list[int]


def _check_identity_and_window(*, context: ExamineeContext, message: SyncMessage, now: datetime) -> None:
    if message.user_id != context.examinee_id or message.exam_id != context.plan_id:
        raise CodedError(Msg.AUTH_FORBIDDEN, detail="examId/userId are not yours")
    refusal = context.write_refusal(now=now)
    if refusal is not None:
        raise CodedError(refusal)
    if message.test_code != context.test_code:
        # A paper of a stage the examinee has left (or never had) is closed to writes.
        raise CodedError(Msg.EXAM_STAGE_CLOSED, detail=f"testCode {message.test_code} is not the current paper")


def answer_sync_prepare(
    *,
    context: ExamineeContext,
    message: SyncMessage,
    now: datetime,
    check_window: bool = True,
    all_or_nothing: bool = False,
) -> PreparedSync:
    """Check ownership, window and each answer against the paper; build the Lua call.

    Raises CodedError for the whole message (identity, window); per-question refusals go to
    `rejected` with their code and the other questions still apply. An operator's restore passes
    `check_window=False` (it may run while the group is paused) and `all_or_nothing=True` (no
    question is written unless every one is accepted).
    """
    if check_window:
        _check_identity_and_window(context=context, message=message, now=now)
    paper = context.paper
    result = SyncResult(seq=message.seq)
    received = now.isoformat()
    behavior = message.behavior
    behavior_entry = {
        "focusTime": behavior.focus_time,
        "editCount": behavior.edit_count,
        "keystrokes": behavior.keystrokes,
        "clicks": behavior.clicks,
        "scrolls": behavior.scrolls,
        "visits": behavior.visits,
    }
    args: list[str | bytes] = []
    question_ids: list[str] = []
    versions: list[int] = []
    for change in message.answers:
        rule = paper.rules.get(change.question_id)
        refusal = Msg.VALIDATION_UNKNOWN_QUESTION if rule is None else rule.check(change.value)
        if refusal is not None:
            result.rejected[change.question_id] = refusal.code
            continue
        entry = {
            "value": change.value,
            "version": change.version,
            "updated": change.updated,
            "received": received,
            "behavior": behavior_entry,
        }
        args += [change.question_id, str(change.version), change.value, orjson.dumps(entry)]
        question_ids.append(change.question_id)
        versions.append(change.version)
    meta = {"lastSync": received, "status": message.status, "device": message.device}
    header = {
        "examinee": context.examinee_id,
        "plan": context.plan_id,
        "group": context.group_id,
        "exam": message.exam_id,
        "user": message.user_id,
        "test": context.test_code,
        "seq": message.seq,
        "received": received,
        "focusLost": behavior.focus_lost,
        "navigation": list(behavior.navigation),
    }
    cache_key = answer_cache_key(exam_id=message.exam_id, test_code=context.test_code, user_id=message.user_id)
    stream = answer_stream_for(message.priority)
    return PreparedSync(
        result=result,
        keys=[cache_key, stream, exam_group_epoch_key(context.group_id), exam_examinee_epoch_key(context.examinee_id)],
        args=[
            orjson.dumps(meta),
            orjson.dumps(list(behavior.navigation)),
            orjson.dumps(header),
            str(len(question_ids)),
            "all" if all_or_nothing else "each",
            *args,
            context.epoch,
        ],
        question_ids=question_ids,
        versions=versions,
    )


def _interpret(prepared: PreparedSync, reply: list[Any]) -> SyncResult:
    result = prepared.result
    decoded = [item.decode() if isinstance(item, bytes) else str(item) for item in reply]
    if decoded and decoded[0] == "CLOSED":
        raise CodedError(Msg.EXAM_ALREADY_SUBMITTED)
    if decoded and decoded[0] == "EPOCH":
        raise ContextOutdated(decoded[1])
    result.stream_id = decoded[0]
    result.backlog = int(decoded[1])
    for question_id, version, outcome in zip(prepared.question_ids, prepared.versions, decoded[2:], strict=True):
        if outcome in ("A", "D"):
            result.accepted[question_id] = version
        else:
            result.stale[question_id] = int(outcome.split(":", 1)[1])
    return result


def _redis_failure(exc: redis.RedisError) -> CodedError:
    if isinstance(exc, redis.exceptions.OutOfMemoryError) or str(exc).startswith("OOM"):
        return CodedError(Msg.SYSTEM_STORE_FULL)
    return CodedError(Msg.SYSTEM_STORE_UNAVAILABLE, detail=exc.__class__.__name__)


def answer_sync_apply(
    *,
    context: ExamineeContext,
    message: SyncMessage,
    now: datetime,
    check_window: bool = True,
    all_or_nothing: bool = False,
) -> SyncResult:
    """Apply a validated sync message (blocking client; the HTTP fallback and operator restores use this)."""
    prepared = answer_sync_prepare(
        context=context, message=message, now=now, check_window=check_window, all_or_nothing=all_or_nothing
    )
    if not prepared.question_ids:
        return prepared.result
    try:
        reply = script(SYNC_APPLY)(keys=prepared.keys, args=prepared.args)
    except redis.RedisError as exc:
        raise _redis_failure(exc) from exc
    return _interpret(prepared, reply)


async def answer_sync_apply_async(*, context: ExamineeContext, message: SyncMessage, now: datetime) -> SyncResult:
    """Apply a validated sync message from an event loop (the WebSocket consumer uses this).

    Raises ContextOutdated when `context.epoch` no longer matches the state epochs (nothing written).
    """
    prepared = answer_sync_prepare(context=context, message=message, now=now)
    if not prepared.question_ids:
        return prepared.result
    try:
        # Pipelined with the other saves of the moment in this process (exam_platform.redis_batch).
        reply = await script_batch(SYNC_APPLY)(keys=prepared.keys, args=prepared.args)
    except redis.RedisError as exc:
        raise _redis_failure(exc) from exc
    return _interpret(prepared, reply)


def answer_cache_ttl() -> int:
    return settings.ANSWER_CACHE_TTL_SECONDS
