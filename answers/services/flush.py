"""Flushing the answer queue into the database (seed 000, 3.1 step 4 "Redis -> DB").

The Redis Streams are the mailbox; a Celery task only rings the bell (../shared/RELIABILITY.md):
a lost or repeated task costs latency, never data. One flush:

1. claims entries idle longer than ANSWER_FLUSH_CLAIM_IDLE_MS from any consumer (a dead worker, or this one
   after a database outage), then reads new entries, high priority first;
2. writes a batch in one transaction: ANSWER_DATA upsert that never lowers a version,
   ANSWER_HISTORY insert that ignores a version it already has (so a redelivery adds no row)
   and QUESTION_METADATA (monotonic counters);
3. only after the commit: marks the batch's examinees due for a SOLVING_STATS recount
   (SOLVING_STATS_DUE); then, on a thread of its own while the next batch is written (in batch
   order): XACK, marks the committed versions in the cache (which then may expire), and rings
   `answer.committed` for the batch's examinees with one PUBLISH (exam_platform.fanout);
4. after its batches: recounts SOLVING_STATS of the examinees due (`solving_stats_refresh`), once
   for all the batches of the call, while the last acknowledgements run. SOLVING_STATS is derived
   from ANSWER_DATA and QUESTION_METADATA; recounting it in every batch's transaction cost the
   flush a quarter of its time (bench/flush_throughput.py). An examinee stays due until a recount
   has committed, so a worker killed in between leaves it for the next flush, which the beat rings
   every second.

A batch that the database refuses for its data is retried entry by entry; an entry that fails
ANSWER_FLUSH_MAX_DELIVERIES times moves to the reprocess (dead-letter) stream and table, with an operator
alert. A database that does not answer leaves every entry pending; nothing is acknowledged.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson
import psycopg
import redis
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.utils import DataError, InterfaceError, OperationalError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from exam_platform.fanout import fanout_publish
from exam_platform.redis import redis_client
from monitoring.messages import Msg
from plans.choices import ExamStatus, TransitionSubject
from plans.models import ExamineeProgress

from ..keys import ANSWER_DEAD_LETTER_STREAM, ANSWER_STREAMS, FLUSH_GROUP, SOLVING_STATS_DUE, answer_committed_channel
from ..models import AnswerDeadLetter
from ..redis_scripts import COMMIT_MARK, HASH_DELETE_IF_SAME, script
from ..selectors import paper_get, plan_question_total

logger = logging.getLogger(__name__)

# Acknowledgements queued or running at most (their batches' entries stay in memory until then).
ACKS_IN_FLIGHT = 2


class DatabaseUnavailable(Exception):
    """The database did not answer; every entry of the batch stays pending for a later flush."""


@dataclass
class QueueEntry:
    """One stream entry: the header of a sync message and its accepted answer changes."""

    stream: str
    entry_id: str
    header: dict[str, Any]
    answers: dict[str, dict[str, Any]]
    deliveries: int = 1

    @property
    def examinee_id(self) -> str:
        return str(self.header.get("examinee", ""))

    @property
    def cache_key(self) -> str:
        return f"exam:{self.header['exam']}:test:{self.header['test']}:user:{self.header['user']}"


@dataclass
class FlushResult:
    read: int = 0
    committed: int = 0
    dead_lettered: int = 0
    batches: int = 0
    stats_recounted: int = 0
    committed_versions: dict[str, dict[str, int]] = field(default_factory=dict)


def flush_consumer_name() -> str:
    """This process's consumer name in the flush group (host and pid: a restarted worker is new)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def answer_queue_ensure(client: redis.Redis | None = None) -> None:
    """Create the consumer group of every answer stream (again after Redis lost its data: NOGROUP)."""
    client = client or redis_client()
    for stream in (*ANSWER_STREAMS,):
        try:
            client.xgroup_create(stream, FLUSH_GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise


def _decode(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _parse_entry(stream: str, entry_id: bytes | str, fields: Iterable[tuple[bytes | str, bytes]]) -> QueueEntry:
    """An entry from its (field, value) pairs: the header `m` and one `q:<question>` per change."""
    header: dict[str, Any] = {}
    answers: dict[str, Any] = {}
    for key, value in fields:
        name = _decode(key)
        if name == "m":
            header = orjson.loads(value)
        elif name.startswith("q:"):
            answers[name[2:]] = orjson.loads(value)
    return QueueEntry(stream=stream, entry_id=_decode(entry_id), header=header, answers=answers)


@lru_cache(maxsize=8)
def _raw_reader(pool: redis.ConnectionPool) -> redis.Redis:
    """A client on the same connections that leaves XREADGROUP's reply as Redis sent it: redis-py
    turns every entry into a dict first, which took 65 of the 91 ms that reading 10,000 entries
    took (measured on the bench machine); the entries are parsed once, here, instead."""
    client = redis.Redis(connection_pool=pool)
    client.set_response_callback("XREADGROUP", lambda response, **_options: response)
    return client


def _faultpoint(name: str) -> None:
    """Test-only hook (../shared/RELIABILITY.md): EXAM_FAULTPOINT=<name> logs a marker and sleeps here."""
    if os.environ.get("EXAM_FAULTPOINT") == name:
        logger.warning("FAULTPOINT %s reached pid=%s", name, os.getpid())
        time.sleep(float(os.environ.get("EXAM_FAULTPOINT_SLEEP", "30")))


def _claim(client: redis.Redis, consumer: str, count: int) -> list[QueueEntry]:
    """Entries idle past ANSWER_FLUSH_CLAIM_IDLE_MS (their consumer died or failed), with their delivery counts."""
    entries: list[QueueEntry] = []
    for stream in ANSWER_STREAMS:
        _next, claimed, *_deleted = client.xautoclaim(
            stream,
            FLUSH_GROUP,
            consumer,
            min_idle_time=settings.ANSWER_FLUSH_CLAIM_IDLE_MS,
            start_id="0-0",
            count=count,
        )
        if not claimed:
            continue
        pending = client.xpending_range(
            stream, FLUSH_GROUP, min=claimed[0][0], max=claimed[-1][0], count=len(claimed) * 2, consumername=consumer
        )
        deliveries = {_decode(p["message_id"]): int(p["times_delivered"]) for p in pending}
        for entry_id, fields in claimed:
            if fields is None:
                continue
            entry = _parse_entry(stream, entry_id, fields.items())
            entry.deliveries = deliveries.get(entry.entry_id, 1)
            entries.append(entry)
        if len(entries) >= count:
            break
    return entries


def _read_new(client: redis.Redis, consumer: str, count: int) -> list[QueueEntry]:
    entries: list[QueueEntry] = []
    reader = _raw_reader(client.connection_pool)
    for stream in ANSWER_STREAMS:  # high priority first
        if len(entries) >= count:
            break
        reply = reader.xreadgroup(FLUSH_GROUP, consumer, {stream: ">"}, count=count - len(entries))
        # RESP3: {stream: messages}; RESP2: [[stream, messages]]; each message [id, [field, value, ...]]
        for messages in reply.values() if isinstance(reply, dict) else (item[1] for item in reply or []):
            for entry_id, fields in messages:
                pairs = iter(fields)
                entries.append(_parse_entry(stream, entry_id, zip(pairs, pairs, strict=True)))
    return entries


def answer_queue_flush(
    *, consumer: str | None = None, batch_size: int | None = None, max_batches: int = 20, time_budget: float = 20.0
) -> FlushResult:
    """Flush up to `max_batches` batches of the answer queue into the database; see the module docstring.

    Raises DatabaseUnavailable when the database does not answer (entries stay pending).
    """
    client = redis_client()
    consumer = consumer or flush_consumer_name()
    batch_size = batch_size or settings.ANSWER_FLUSH_BATCH_SIZE
    result = FlushResult()
    started = time.monotonic()
    try:
        entries = _claim(client, consumer, batch_size)
    except redis.ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        answer_queue_ensure(client)
        entries = []
    # Acknowledging is Redis work only: it runs on its own thread, in batch order, while this thread
    # writes the next batch, so the database is not left waiting for it (measured with
    # bench/flush_throughput.py: 15 % more changes a second). The next batch is read while PostgreSQL
    # commits this one, when this thread only waits: read any earlier, it slowed the writing as much
    # as it saved.
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="flush-ack") as acker,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="flush-read") as reader,
    ):
        acks: list[Future] = []
        ahead: list[Future] = []

        def read_ahead() -> None:
            ahead.append(reader.submit(_read_next, client, consumer, batch_size))

        try:
            for number in range(max_batches):
                if not entries:
                    entries = ahead.pop().result() if ahead else _read_next(client, consumer, batch_size)
                if not entries:
                    break
                # The last batch reads nothing ahead: entries read are this consumer's until flushed.
                last = number == max_batches - 1 or time.monotonic() - started > time_budget
                result.read += len(entries)
                result.batches += 1
                committed = _flush_batch(client, entries, result, before_commit=None if last else read_ahead)
                if committed:
                    # Due for a recount before the XACK, so no entry leaves unaccounted; here rather than on
                    # the acknowledging thread, so the recount below need not wait for the last acknowledgement.
                    client.hset(SOLVING_STATS_DUE, mapping=_stats_due(committed))
                    _faultpoint("after_db_commit_before_xack")
                    acks.append(acker.submit(_acknowledge, client, committed, result))
                    while len(acks) > ACKS_IN_FLIGHT:
                        # One that failed stops the flush here, after the later ones queued have run.
                        acks.pop(0).result()
                entries = []
                if last:
                    break
        except BaseException:
            _read_ahead_release(client, consumer, ahead)
            raise
        # The recount is database work, the acknowledgements Redis work: both at once.
        result.stats_recounted = solving_stats_refresh(client)
        for ack in acks:
            ack.result()
    return result


def _read_ahead_release(client: redis.Redis, consumer: str, ahead: list[Future]) -> None:
    """Entries read ahead for a batch that a failure keeps from being written: they are marked idle
    long enough for the next flush to claim them at once, not ANSWER_FLUSH_CLAIM_IDLE_MS later
    (JUSTID: their delivery count, which dead-letters a poison entry, is not raised)."""
    for future in ahead:
        try:
            entries = future.result()
            by_stream: dict[str, list[str]] = {}
            for entry in entries:
                by_stream.setdefault(entry.stream, []).append(entry.entry_id)
            for stream, ids in by_stream.items():
                client.xclaim(stream, FLUSH_GROUP, consumer, 0, ids, idle=settings.ANSWER_FLUSH_CLAIM_IDLE_MS,
                              justid=True)  # fmt: skip
        except Exception:  # the failure being raised says more; these come back after the idle time
            logger.warning("entries read ahead left for the idle-time claim", exc_info=True)


def _read_next(client: redis.Redis, consumer: str, count: int) -> list[QueueEntry]:
    """The next new entries, creating the consumer group if a Redis restart lost it."""
    try:
        return _read_new(client, consumer, count)
    except redis.ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        answer_queue_ensure(client)
        return _read_new(client, consumer, count)


def _flush_batch(
    client: redis.Redis,
    entries: list[QueueEntry],
    result: FlushResult,
    *,
    before_commit: Callable[[], None] | None = None,
) -> list[QueueEntry]:
    """Write a batch in one transaction (entry by entry if the database refuses it); returns the
    committed entries, which the caller acknowledges. `before_commit` runs once the batch's
    statements have gone through, just before its commit."""
    poisoned = [entry for entry in entries if entry.deliveries > settings.ANSWER_FLUSH_MAX_DELIVERIES]
    for entry in poisoned:
        _dead_letter(client, entry, error=f"failed {entry.deliveries - 1} times")
        result.dead_lettered += 1
    entries = [entry for entry in entries if entry.deliveries <= settings.ANSWER_FLUSH_MAX_DELIVERIES]
    if not entries:
        return []
    try:
        with transaction.atomic():
            answer_rows_write(entries)
            if before_commit is not None:
                before_commit()
        committed = entries
    except (OperationalError, InterfaceError) as exc:
        raise DatabaseUnavailable(str(exc)) from exc
    except (IntegrityError, DataError, ValueError, KeyError, TypeError) as exc:
        logger.warning("flush batch of %d refused (%s); retrying entry by entry", len(entries), exc)
        committed = []
        for entry in entries:
            try:
                with transaction.atomic():
                    answer_rows_write([entry])
                committed.append(entry)
            except (OperationalError, InterfaceError) as entry_exc:
                raise DatabaseUnavailable(str(entry_exc)) from entry_exc
            except (DatabaseError, ValueError, KeyError, TypeError) as entry_exc:
                # Left pending: claimed again after ANSWER_FLUSH_CLAIM_IDLE_MS, dead-lettered after the last delivery.
                logger.warning("flush entry %s %s refused: %s", entry.stream, entry.entry_id, entry_exc)
                if entry.deliveries >= settings.ANSWER_FLUSH_MAX_DELIVERIES:
                    _dead_letter(client, entry, error=str(entry_exc))
                    result.dead_lettered += 1
    return committed


def _acknowledge(client: redis.Redis, entries: list[QueueEntry], result: FlushResult) -> None:
    by_stream: dict[str, list[str]] = {}
    by_key: dict[str, dict[str, int]] = {}
    by_examinee: dict[str, dict[str, int]] = {}
    for entry in entries:
        by_stream.setdefault(entry.stream, []).append(entry.entry_id)
        versions = by_key.setdefault(entry.cache_key, {})
        committed = by_examinee.setdefault(entry.examinee_id, {})
        for question_id, change in entry.answers.items():
            versions[question_id] = max(versions.get(question_id, 0), int(change["version"]))
            committed[question_id] = max(committed.get(question_id, 0), int(change["version"]))
    pipe = client.pipeline(transaction=False)
    for stream, ids in by_stream.items():
        pipe.xack(stream, FLUSH_GROUP, *ids)
    args: list[Any] = [settings.ANSWER_CACHE_TTL_SECONDS]
    for versions in by_key.values():
        args.append(len(versions))
        for question_id, version in versions.items():
            args += [question_id, version]
    script(COMMIT_MARK)(keys=list(by_key), args=args, client=pipe)  # one call for the batch's hashes
    pipe.execute()
    result.committed += len(entries)
    for examinee_id, versions in by_examinee.items():
        result.committed_versions.setdefault(examinee_id, {}).update(versions)
    _ring_committed(client, by_examinee)


def _stats_due(entries: list[QueueEntry]) -> dict[str, bytes]:
    """{examinee: JSON [group, plan, exam, user, focus lost, stamp]} of the committed entries: what the
    SOLVING_STATS row needs besides the tables, and the last entry's stream ID as the stamp."""
    due: dict[str, list[Any]] = {}
    for entry in entries:
        header = entry.header
        focus_lost = int(header.get("focusLost", 0))
        previous = due.get(entry.examinee_id)
        if previous is not None:
            focus_lost = max(focus_lost, previous[4])
        due[entry.examinee_id] = [header["group"], header["plan"], header["exam"], header["user"], focus_lost,
                                  f"{entry.stream}/{entry.entry_id}"]  # fmt: skip
    return {examinee_id: orjson.dumps(value) for examinee_id, value in due.items()}


# Any constant; one recount at a time (see solving_stats_refresh).
SOLVING_STATS_RECOUNT_LOCK = 0x50_5354_4154  # "SOLVING_STATS"


def solving_stats_refresh(client: redis.Redis | None = None, *, chunk: int = 2000, time_budget: float = 10.0) -> int:
    """Recount SOLVING_STATS of the examinees due (SOLVING_STATS_DUE), `chunk` per transaction;
    returns how many were recounted.

    One process recounts at a time (a PostgreSQL advisory lock; the others return): two recounts of
    one examinee that overlapped could commit the older count last. A field is deleted after the
    commit only if it still holds what was read, so a commit in between asks for another recount.
    An examinee whose row the database refuses (deleted meanwhile) is dropped with a warning.
    """
    client = client or redis_client()
    started = time.monotonic()
    recounted = 0
    while time.monotonic() - started < time_budget:
        picked = _pairs(client.hrandfield(SOLVING_STATS_DUE, chunk, withvalues=True))
        if not picked:
            break
        examinees: dict[str, tuple] = {}
        for field_name, value in picked.items():
            try:
                group_id, plan_id, exam_id, user_id, focus_lost, _stamp = orjson.loads(value)
                examinees[_decode(field_name)] = (group_id, plan_id, exam_id, user_id, int(focus_lost))
            except (ValueError, TypeError):  # not written by _stats_due: dropped, never blocking the others
                logger.warning("SOLVING_STATS due mark of %r unreadable, dropped: %r", field_name, value[:200])
        try:
            if examinees and not _stats_write_locked(examinees):
                break  # another process is recounting; it takes these too
        except (OperationalError, InterfaceError) as exc:
            raise DatabaseUnavailable(str(exc)) from exc
        except (IntegrityError, DataError) as exc:
            logger.warning("SOLVING_STATS recount of %d refused (%s); one by one", len(examinees), exc)
            for examinee_id, row in examinees.items():
                try:
                    if not _stats_write_locked({examinee_id: row}):
                        picked.pop(examinee_id.encode(), None)  # not recounted: stays due
                except (OperationalError, InterfaceError) as row_exc:
                    raise DatabaseUnavailable(str(row_exc)) from row_exc
                except (IntegrityError, DataError) as row_exc:
                    logger.warning("SOLVING_STATS of %s dropped: %s", examinee_id, row_exc)
        args = [item for pair in picked.items() for item in pair]
        script(HASH_DELETE_IF_SAME)(keys=[SOLVING_STATS_DUE], args=args, client=client)
        recounted += len(examinees)
        if len(picked) < chunk:
            break
    return recounted


def _pairs(reply: list | dict | None) -> dict[bytes, bytes]:
    """HRANDFIELD ... WITHVALUES as {field: value}: a flat list (RESP2) or a list of pairs (RESP3)."""
    if not reply:
        return {}
    if isinstance(reply, dict):
        return reply
    if isinstance(reply[0], list | tuple):
        return {pair[0]: pair[1] for pair in reply}
    return dict(zip(reply[::2], reply[1::2], strict=True))


def _stats_write_locked(examinees: dict[str, tuple]) -> bool:
    """Recount in one transaction under the recount lock; False when another process holds it."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SOLVING_STATS_RECOUNT_LOCK])
                if not cursor.fetchone()[0]:
                    return False
        _solving_stats_write(examinees, _greatest()[0])
    return True


def _ring_committed(client: redis.Redis, by_examinee: dict[str, dict[str, int]]) -> None:
    """Doorbell: tell open pages what is now in the database (they can also learn it from `recover`):
    one PUBLISH for the whole batch, which each ASGI process hands to its own examinees' sockets."""
    fanout_publish(answer_committed_channel(), by_examinee, client=client)


def _dead_letter(client: redis.Redis, entry: QueueEntry, *, error: str) -> None:
    """Copy the entry to the reprocess stream and table, then acknowledge it; alert the operator."""
    payload = {"header": entry.header, "answers": entry.answers}
    try:
        AnswerDeadLetter.objects.get_or_create(
            stream=entry.stream,
            entry_id=entry.entry_id,
            defaults={
                "examinee_id": entry.examinee_id[:50],
                "payload": payload,
                "error": error[:2000],
                "deliveries": entry.deliveries,
            },
        )
    except (OperationalError, InterfaceError) as exc:
        raise DatabaseUnavailable(str(exc)) from exc
    client.xadd(
        ANSWER_DEAD_LETTER_STREAM,
        {"source": entry.stream, "id": entry.entry_id, "payload": json.dumps(payload, ensure_ascii=False)},
    )
    client.xack(entry.stream, FLUSH_GROUP, entry.entry_id)
    logger.error(
        "%s %s: entry %s of %s moved to the reprocess queue after %d deliveries: %s",
        Msg.ANSWER_DEAD_LETTER.code,
        Msg.ANSWER_DEAD_LETTER.name,
        entry.entry_id,
        entry.examinee_id,
        entry.deliveries,
        error,
    )


# --- SQL -------------------------------------------------------------------------------------------


def _when(value: str) -> datetime:
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"bad time {value!r}")
    return parsed


def _dt(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _greatest() -> tuple[str, str]:
    return ("GREATEST", "LEAST") if connection.vendor == "postgresql" else ("MAX", "MIN")


@contextmanager
def _binary_cursor() -> Iterator[psycopg.Cursor]:
    """A server-side-binding psycopg cursor on Django's connection (so in its transaction), for
    binary parameters (%b) and binary COPY: arrays and rows are dumped by psycopg's C code instead
    of quoted into the statement in Python by Django's client-side cursor (four times faster,
    measured). Its errors come as Django's (IntegrityError, DataError...), as from any cursor:
    the flush tells a refused batch from a database that does not answer by them."""
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def _insert(sql_head: str, columns: list[str], rows: list[tuple], tail: str, types: list[str]) -> None:
    """INSERT `rows` into `columns` with `tail` (ON CONFLICT ...).

    On PostgreSQL one statement per table with one binary array parameter per column
    (`SELECT * FROM unnest(%s::text[], ...)`): the statement text stays short and the same for any
    number of rows, where a VALUES list of 200 rows x 10 placeholders made psycopg split a new
    2,000-placeholder query in Python for every chunk (most of the flush's time in the profile).
    Elsewhere (SQLite of `make run`) multi-row VALUES in chunks.
    """
    if not rows:
        return
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%b::{kind}[]" for kind in types)
        sql = f"{sql_head} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) {tail}"
        with _binary_cursor() as cursor:
            for start in range(0, len(rows), 5000):
                cursor.execute(sql, [list(column) for column in zip(*rows[start : start + 5000], strict=True)])
        return
    _values_insert(sql_head, columns, rows, tail)


def _values_insert(sql_head: str, columns: list[str], rows: list[tuple], tail: str) -> None:
    """INSERT `rows` as multi-row VALUES in chunks (SQLite of `make run`)."""
    with connection.cursor() as cursor:
        placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
        for start in range(0, len(rows), 200):
            chunk = rows[start : start + 200]
            sql = f"{sql_head} ({', '.join(columns)}) VALUES {', '.join([placeholders] * len(chunk))} {tail}"
            cursor.execute(sql, [value for row in chunk for value in row])


_TEXT5 = ["text"] * 5

# One row per accepted change, as the queue entries carry it; every answer table is written from these.
_CHANGE_COLUMNS = (
    "examinee_id", "group_id", "plan_id", "exam_id", "user_id", "question_id", "answer_type", "answer_value",
    "received", "focus", "version", "visits", "clicks", "scrolls", "keystrokes",
)  # fmt: skip
_CHANGE_TYPES = [*_TEXT5, "text", "text", "text", "timestamptz", "int8", "int8", "int8", "int8", "int8", "int8"]

_DATA_COLUMNS = ("examinee_id, group_id, plan_id, exam_id, user_id, question_id, answer_type, answer_value, "
                 "last_modified, version")  # fmt: skip
# The rules of each table, whatever order the changes come in: ANSWER_DATA never lowers a version,
# ANSWER_HISTORY keeps the version it has (a redelivered entry adds nothing), QUESTION_METADATA's
# counters only grow (its first visit only moves earlier).
_DATA_CONFLICT = (
    "ON CONFLICT (examinee_id, question_id) DO UPDATE SET answer_value = EXCLUDED.answer_value, "
    "answer_type = EXCLUDED.answer_type, last_modified = EXCLUDED.last_modified, version = EXCLUDED.version, "
    'exam_id = EXCLUDED.exam_id, user_id = EXCLUDED.user_id WHERE "ANSWER_DATA".version < EXCLUDED.version'
)
_HISTORY_COLUMNS = ("examinee_id, group_id, plan_id, exam_id, user_id, question_id, answer_value, timestamp, "
                    "duration, version")  # fmt: skip
_HISTORY_CONFLICT = "ON CONFLICT (examinee_id, question_id, version) DO NOTHING"
_METADATA_COLUMNS = ("examinee_id, group_id, plan_id, exam_id, user_id, question_id, visits, total_duration, "
                     "effective_duration, first_visit, last_visit, click_count, scroll_count, input_count")  # fmt: skip
_METADATA_GROWING = ("visits", "total_duration", "effective_duration", "last_visit", "click_count", "scroll_count",
                     "input_count")  # fmt: skip


def _metadata_conflict(greatest: str, least: str) -> str:
    return (
        "ON CONFLICT (examinee_id, question_id) DO UPDATE SET "
        + ", ".join(
            f'{column} = {greatest}("QUESTION_METADATA".{column}, EXCLUDED.{column})' for column in _METADATA_GROWING
        )  # fmt: skip
        + f', first_visit = {least}("QUESTION_METADATA".first_visit, EXCLUDED.first_visit)'
    )


# PostgreSQL: a batch's changes go into a temporary table with one binary COPY, and each answer table
# is written from it by one INSERT ... SELECT that collapses the batch's changes of one row first
# (ON CONFLICT DO UPDATE may not touch a row twice in one statement), in key order, so two flushes
# writing the same rows at once lock them in the same order and wait instead of deadlocking.
# Against an array parameter per column for each table, with the collapsing done in Python, this is
# 0.1 s less per 10,000 changes (bench/flush_throughput.py).
_STAGE = "answer_flush_stage"
_STAGE_CREATE = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGE} ("
    + ", ".join(f"{name} {kind}" for name, kind in zip(_CHANGE_COLUMNS, _CHANGE_TYPES, strict=True))
    + ") ON COMMIT DELETE ROWS"
)
_STAGE_TO_DATA = (
    f'INSERT INTO "ANSWER_DATA" ({_DATA_COLUMNS}) SELECT DISTINCT ON (examinee_id, question_id) examinee_id, '
    "group_id, plan_id, exam_id, user_id, question_id, answer_type, answer_value, received, version "
    f"FROM {_STAGE} ORDER BY examinee_id, question_id, version DESC {_DATA_CONFLICT}"
)
_STAGE_TO_HISTORY = (
    f'INSERT INTO "ANSWER_HISTORY" ({_HISTORY_COLUMNS}) SELECT examinee_id, group_id, plan_id, exam_id, user_id, '
    f"question_id, answer_value, received, focus, version FROM {_STAGE} ORDER BY examinee_id, question_id, version "
    f"{_HISTORY_CONFLICT}"
)
_STAGE_TO_METADATA = (
    f'INSERT INTO "QUESTION_METADATA" ({_METADATA_COLUMNS}) SELECT examinee_id, MAX(group_id), MAX(plan_id), '
    "MAX(exam_id), MAX(user_id), question_id, MAX(visits), MAX(focus), MAX(focus), MIN(received), MAX(received), "
    f"MAX(clicks), MAX(scrolls), MAX(keystrokes) FROM {_STAGE} GROUP BY examinee_id, question_id "
    f"ORDER BY examinee_id, question_id {_metadata_conflict('GREATEST', 'LEAST')}"
)


def _change_rows(entries: Iterable[QueueEntry]) -> tuple[list[tuple], list[str]]:
    """The entries' changes as rows of _CHANGE_COLUMNS, and their examinees (in order, once each)."""
    rows: list[tuple] = []
    examinee_ids: dict[str, None] = {}
    for entry in entries:
        header = entry.header
        received = _when(header["received"])
        rules = paper_get(test_code=header["test"]).rules
        examinee_id = header["examinee"]
        key = (examinee_id, header["group"], header["plan"], header["exam"], header["user"])
        examinee_ids[examinee_id] = None
        for question_id, change in entry.answers.items():
            behavior = change.get("behavior", {})
            rows.append((*key, question_id, rules[question_id].question_type, change["value"], received,
                         int(behavior.get("focusTime", 0)), int(change["version"]), int(behavior.get("visits", 0)),
                         int(behavior.get("clicks", 0)), int(behavior.get("scrolls", 0)),
                         int(behavior.get("keystrokes", 0))))  # fmt: skip
    return rows, list(examinee_ids)


def answer_rows_write(entries: Iterable[QueueEntry]) -> None:
    """Write queue entries to ANSWER_DATA, ANSWER_HISTORY and QUESTION_METADATA (SOLVING_STATS follows
    in `solving_stats_refresh`), and ANSWER of examinees who have already submitted.

    Idempotent: running it twice with the same entries leaves the same rows. Call inside a transaction.
    """
    rows, examinee_ids = _change_rows(entries)
    if not rows:
        return
    if connection.vendor == "postgresql":
        with _binary_cursor() as cursor:
            cursor.execute(_STAGE_CREATE)
            cursor.execute(f"DELETE FROM {_STAGE}")  # empty after every commit; this also covers a savepoint
            with cursor.copy(f"COPY {_STAGE} FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(_CHANGE_TYPES)
                for row in rows:
                    copy.write_row(row)
            for statement in (_STAGE_TO_DATA, _STAGE_TO_HISTORY, _STAGE_TO_METADATA):
                cursor.execute(statement)
    else:
        # SQLite applies ON CONFLICT row by row, so the same rules hold without collapsing first.
        adapt_time = connection.ops.adapt_datetimefield_value
        rows = [(*row[:8], adapt_time(row[8]), *row[9:]) for row in rows]
        _values_insert('INSERT INTO "ANSWER_DATA"', _DATA_COLUMNS.split(", "),
                       [(*row[:9], row[10]) for row in rows], _DATA_CONFLICT)  # fmt: skip
        _values_insert('INSERT INTO "ANSWER_HISTORY"', _HISTORY_COLUMNS.split(", "),
                       [(*row[:6], *row[7:11]) for row in rows], _HISTORY_CONFLICT)  # fmt: skip
        _values_insert(
            'INSERT INTO "QUESTION_METADATA"',
            _METADATA_COLUMNS.split(", "),
            [(*row[:6], row[11], row[9], row[9], row[8], row[8], row[12], row[13], row[14]) for row in rows],
            _metadata_conflict("MAX", "MIN"),
        )
    _submitted_answers_refresh(examinee_ids)


def _submitted_answers_refresh(examinee_ids: list[str]) -> None:
    """Bring ANSWER (2.6) of already submitted examinees up to ANSWER_DATA.

    Every queue entry was accepted before its examinee's window closed, but the flush may run
    after the submit (a deadline sweep, a force submit): those late-flushed versions belong in
    the final sheet too. The submit time stays as it was: a question that joins the sheet takes
    the time of the sheet's other rows, else the time of the submit's STATUS_TRANSITION row, and
    only without either the flush's own time.
    """
    if not examinee_ids:
        return
    # Almost always nobody in the batch has submitted: find out with the primary key first.
    examinee_ids = _submitted_among(examinee_ids)
    if not examinee_ids:
        return
    placeholders = ", ".join(["%s"] * len(examinee_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            'UPDATE "ANSWER" SET answer_content = d.answer_value FROM "ANSWER_DATA" d, "EXAMINEE_PROGRESS" p '
            'WHERE d.examinee_id = "ANSWER".examinee_id AND d.question_id = "ANSWER".question_id '
            f"AND p.examinee_id = d.examinee_id AND p.exam_status_code = %s AND d.examinee_id IN ({placeholders}) "
            'AND "ANSWER".answer_content <> d.answer_value',
            [ExamStatus.SUBMITTED, *examinee_ids],
        )
        cursor.execute(
            'INSERT INTO "ANSWER" (examinee_id, group_id, plan_id, question_id, answer_content, submit_datetime) '
            "SELECT d.examinee_id, d.group_id, d.plan_id, d.question_id, d.answer_value, "
            'COALESCE((SELECT MIN(a.submit_datetime) FROM "ANSWER" a WHERE a.examinee_id = d.examinee_id), '
            '(SELECT MAX(t.occurred_at) FROM "STATUS_TRANSITION" t WHERE t.subject_type = %s '
            "AND t.subject_id = d.examinee_id AND t.to_value = %s), %s) "
            'FROM "ANSWER_DATA" d JOIN "EXAMINEE_PROGRESS" p ON p.examinee_id = d.examinee_id '
            f"WHERE p.exam_status_code = %s AND d.examinee_id IN ({placeholders}) "
            'AND NOT EXISTS (SELECT 1 FROM "ANSWER" a WHERE a.examinee_id = d.examinee_id '
            "AND a.question_id = d.question_id)",
            [TransitionSubject.EXAMINEE, ExamStatus.SUBMITTED, _dt(timezone.now()), ExamStatus.SUBMITTED]
            + examinee_ids,
        )


def _submitted_among(examinee_ids: list[str]) -> list[str]:
    """Those of `examinee_ids` who have submitted. On PostgreSQL the IDs go as one binary array: an
    `IN` of a batch's 2,000 placeholders was built by Django in Python (6 % of the flush's samples)."""
    if connection.vendor == "postgresql":
        with _binary_cursor() as cursor:
            cursor.execute(
                'SELECT examinee_id FROM "EXAMINEE_PROGRESS" WHERE examinee_id = ANY(%b::text[]) '
                "AND exam_status_code = %b",
                [examinee_ids, str(ExamStatus.SUBMITTED.value)],
            )
            return [row[0] for row in cursor.fetchall()]
    progress = ExamineeProgress.objects.filter(pk__in=examinee_ids, exam_status_code=ExamStatus.SUBMITTED)
    return list(progress.values_list("pk", flat=True))


def answer_final_rows_upsert(
    *, examinee_id: str, group_id: str, plan_id: str, answers: dict[str, str], submitted_at: datetime
) -> None:
    """Write the final sheet (ANSWER, 2.6) from `answers` {question: value}; re-running refreshes the content."""
    rows = [
        (examinee_id, group_id, plan_id, question_id, value, _dt(submitted_at))
        for question_id, value in answers.items()
    ]
    _insert(
        'INSERT INTO "ANSWER"',
        ["examinee_id", "group_id", "plan_id", "question_id", "answer_content", "submit_datetime"],
        rows,
        "ON CONFLICT (examinee_id, question_id) DO UPDATE SET answer_content = EXCLUDED.answer_content",
        ["text", "text", "text", "text", "text", "timestamptz"],
    )


_SOLVING_STATS_COLUMNS = (
    "examinee_id, group_id, plan_id, exam_id, user_id, total_questions, answered_questions, total_duration, "
    "effective_duration, focus_lost_count, page_scrolls, total_clicks"
)


def _solving_stats_conflict(greatest: str) -> str:
    return (
        "ON CONFLICT (examinee_id, exam_id) DO UPDATE SET total_questions = EXCLUDED.total_questions, "
        "answered_questions = EXCLUDED.answered_questions, total_duration = EXCLUDED.total_duration, "
        "effective_duration = EXCLUDED.effective_duration, page_scrolls = EXCLUDED.page_scrolls, "
        "total_clicks = EXCLUDED.total_clicks, "
        f'focus_lost_count = {greatest}("SOLVING_STATS".focus_lost_count, EXCLUDED.focus_lost_count)'
    )


# On PostgreSQL the recount is one statement: the batch's examinees as arrays, their ANSWER_DATA and
# QUESTION_METADATA aggregated and upserted by the server (no rows back to Python and out again).
_SOLVING_STATS_SQL = (
    "WITH u AS (SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::bigint[], "
    "%b::bigint[]) AS u(examinee_id, group_id, plan_id, exam_id, user_id, total_questions, focus_lost)), "
    'a AS (SELECT examinee_id, COUNT(*) AS answered FROM "ANSWER_DATA" '
    "WHERE examinee_id IN (SELECT examinee_id FROM u) AND answer_value <> '' GROUP BY examinee_id), "
    "m AS (SELECT examinee_id, SUM(total_duration) AS total, SUM(effective_duration) AS effective, "
    'SUM(scroll_count) AS scrolls, SUM(click_count) AS clicks FROM "QUESTION_METADATA" '
    "WHERE examinee_id IN (SELECT examinee_id FROM u) GROUP BY examinee_id) "
    f'INSERT INTO "SOLVING_STATS" ({_SOLVING_STATS_COLUMNS}) '
    "SELECT u.examinee_id, u.group_id, u.plan_id, u.exam_id, u.user_id, u.total_questions, "
    "LEAST(COALESCE(a.answered, 0), u.total_questions), COALESCE(m.total, 0), COALESCE(m.effective, 0), "
    "u.focus_lost, COALESCE(m.scrolls, 0), COALESCE(m.clicks, 0) "
    "FROM u LEFT JOIN a ON a.examinee_id = u.examinee_id LEFT JOIN m ON m.examinee_id = u.examinee_id "
)


def _solving_stats_write(examinees: dict[str, tuple], greatest: str) -> None:
    """Recompute SOLVING_STATS of the examinees from their ANSWER_DATA and QUESTION_METADATA rows."""
    if not examinees:
        return
    if connection.vendor == "postgresql":
        columns: list[list[Any]] = [[], [], [], [], [], [], []]
        for examinee_id, (group_id, plan_id, exam_id, user_id, focus_lost) in examinees.items():
            row = (examinee_id, group_id, plan_id, exam_id, user_id, plan_question_total(plan_id=plan_id), focus_lost)
            for column, value in zip(columns, row, strict=True):
                column.append(value)
        with _binary_cursor() as cursor:
            cursor.execute(_SOLVING_STATS_SQL + _solving_stats_conflict(greatest), columns)
        return
    ids = list(examinees)
    placeholders = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT examinee_id, COUNT(*) FROM "ANSWER_DATA" WHERE examinee_id IN ({placeholders}) '
            "AND answer_value <> '' GROUP BY examinee_id",
            ids,
        )
        answered = dict(cursor.fetchall())
        cursor.execute(
            "SELECT examinee_id, COALESCE(SUM(total_duration), 0), COALESCE(SUM(effective_duration), 0), "
            "COALESCE(SUM(scroll_count), 0), COALESCE(SUM(click_count), 0) "
            f'FROM "QUESTION_METADATA" WHERE examinee_id IN ({placeholders}) GROUP BY examinee_id',
            ids,
        )
        sums = {row[0]: row[1:] for row in cursor.fetchall()}
    rows = []
    for examinee_id, (group_id, plan_id, exam_id, user_id, focus_lost) in examinees.items():
        total_questions = plan_question_total(plan_id=plan_id)
        total, effective, scrolls, clicks = sums.get(examinee_id, (0, 0, 0, 0))
        rows.append(
            (examinee_id, group_id, plan_id, exam_id, user_id, total_questions,
             min(answered.get(examinee_id, 0), total_questions), int(total), int(effective), focus_lost,
             int(scrolls), int(clicks))
        )  # fmt: skip
    _insert(
        'INSERT INTO "SOLVING_STATS"',
        _SOLVING_STATS_COLUMNS.split(", "),
        rows,
        _solving_stats_conflict(greatest),
        [*_TEXT5, "bigint", "bigint", "bigint", "bigint", "bigint", "bigint", "bigint"],
    )


def answer_queue_trim(client: redis.Redis | None = None) -> int:
    """Remove acknowledged entries from the answer streams, so memory does not grow with exam length.

    Never trims an unacknowledged entry (../shared/RELIABILITY.md, finding 4): the cut is the
    oldest pending entry, or just past the group's last delivered entry when nothing is pending;
    entries not yet delivered have higher ids. Returns how many entries were removed.
    """
    client = client or redis_client()
    removed = 0
    for stream in ANSWER_STREAMS:
        try:
            groups = {_decode(g["name"]): g for g in client.xinfo_groups(stream)}
        except redis.ResponseError:
            continue
        group = groups.get(FLUSH_GROUP)
        if group is None:
            continue
        milliseconds, sequence = _decode(group["last-delivered-id"]).split("-")
        cut = f"{milliseconds}-{int(sequence) + 1}"  # everything delivered so far is acknowledged
        if int(group["pending"]):
            summary = client.xpending(stream, FLUSH_GROUP)
            cut = _decode(summary["min"])
        if cut != "0-1":
            removed += int(client.xtrim(stream, minid=cut, approximate=False))
    return removed
