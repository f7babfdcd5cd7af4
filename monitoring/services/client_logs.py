"""The log queue of the data flow (seed 000: 로그 데이터 -> 로그 큐 -> 로그 저장소), apart from answers and media.

Exam pages send their events (focus lost, reconnects, errors) as `log` messages; the web tier
validates them and appends one entry per message to the log stream; a Celery task writes
batches as JSON-lines files to the log storage (django-storages: the file system or S3) and
acknowledges the entries only after the file is saved. A redelivered batch may be written twice;
every line carries its stream entry id, so readers can drop the repeats.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from exam_platform.redis import redis_client

from ..messages import CodedError, Msg

LOG_STREAM = "stream:logs"
LOG_GROUP = "log-writers"
MAX_EVENTS_PER_MESSAGE = 50
MAX_EVENT_NAME = 50
MAX_EVENT_DETAIL = 500
LEVELS = frozenset({"debug", "info", "warn", "error"})
CLAIM_IDLE_MS = 30_000


@dataclass(frozen=True)
class LogOwner:
    examinee_id: str
    plan_id: str
    group_id: str


def _event(raw: Any) -> dict[str, str]:
    if type(raw) is not dict:
        raise CodedError(Msg.VALIDATION_SCHEMA, detail="events are objects")
    event = {}
    for key, limit in (("at", 40), ("level", 10), ("event", MAX_EVENT_NAME), ("detail", MAX_EVENT_DETAIL)):
        value = raw.get(key, "")
        if type(value) is not str or len(value) > limit:
            raise CodedError(Msg.VALIDATION_SCHEMA, detail=f"events[].{key} is a string of at most {limit}")
        if "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value):
            raise CodedError(Msg.VALIDATION_BAD_CHARACTER, detail=f"events[].{key}")
        event[key] = value
    if event["level"] not in LEVELS or not event["event"]:
        raise CodedError(Msg.VALIDATION_SCHEMA, detail=f"events[].level is one of {sorted(LEVELS)}; event is named")
    return event


def client_log_enqueue(*, owner: LogOwner, events: Any, received: datetime) -> int:
    """Validate a page's `log` events and append them to the log stream; returns how many were queued."""
    if type(events) is not list or not 1 <= len(events) <= MAX_EVENTS_PER_MESSAGE:
        raise CodedError(Msg.VALIDATION_SCHEMA, detail=f"events is a list of 1 to {MAX_EVENTS_PER_MESSAGE}")
    clean = [_event(raw) for raw in events]
    entry = {
        "examinee": owner.examinee_id,
        "plan": owner.plan_id,
        "group": owner.group_id,
        "received": received.isoformat(),
        "events": json.dumps(clean, ensure_ascii=False),
    }
    try:
        redis_client().xadd(LOG_STREAM, entry)
    except redis.RedisError as exc:
        raise CodedError(Msg.SYSTEM_STORE_UNAVAILABLE, detail=exc.__class__.__name__) from exc
    return len(clean)


def _decode(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def client_logs_flush(*, batch_size: int = 1000, max_batches: int = 20) -> int:
    """Write queued log entries to the log storage as JSON-lines files; returns how many entries were stored."""
    client = redis_client()
    try:
        client.xgroup_create(LOG_STREAM, LOG_GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    consumer = f"{socket.gethostname()}:{os.getpid()}"
    stored = 0
    for _ in range(max_batches):
        _next, messages, *_ = client.xautoclaim(LOG_STREAM, LOG_GROUP, consumer, CLAIM_IDLE_MS, "0-0", count=batch_size)
        messages = [m for m in messages if m[1] is not None]
        if not messages:
            reply = client.xreadgroup(LOG_GROUP, consumer, {LOG_STREAM: ">"}, count=batch_size)
            messages = reply[0][1] if reply else []
        if not messages:
            break
        files: dict[tuple[str, str], list[str]] = {}
        for entry_id, fields in messages:
            decoded = {_decode(k): _decode(v) for k, v in fields.items()}
            key = (decoded["plan"], decoded["received"][:10] or "undated")
            for event in json.loads(decoded["events"]):
                line = {"id": _decode(entry_id), "examinee": decoded["examinee"], "plan": decoded["plan"],
                        "group": decoded["group"], "received": decoded["received"], **event}  # fmt: skip
                files.setdefault(key, []).append(json.dumps(line, ensure_ascii=False))
        for (plan, day), lines in files.items():
            name = f"logs/{plan}/{day}/{uuid.uuid4().hex}.jsonl"
            default_storage.save(name, ContentFile(("\n".join(lines) + "\n").encode("utf-8")))
        ids = [entry_id for entry_id, _fields in messages]
        client.xack(LOG_STREAM, LOG_GROUP, *ids)
        client.xdel(LOG_STREAM, *ids)  # acknowledged: the stream stays bounded
        stored += len(messages)
    return stored
