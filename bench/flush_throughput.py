"""Flush throughput: the platform's flush against a batched COPY + upsert on the same rows, same run.

Run by bench/run.py inside a prepared stack (its environment: DATABASE_URL of a database seeded
with seed_demo, REDIS_URL of the benchmark's private Redis; no Celery worker may run). Each run:

1. empties the answer tables of the demo plan and the private Redis;
2. pre-fills the answer queue with `--entries` saves of one change each, spread over
   `--examinees` examinees, through the real sync service (answer_sync_prepare and the Lua
   script, pipelined): the queue looks exactly as after an exam's saves;
3. times `answers.services.flush.answer_queue_flush` (the code the Celery task runs, here called
   in-process, doorbells included, with the garbage collector tuned as in a worker's pool process)
   until the queue is drained: changes/s into ANSWER_DATA,
   ANSWER_HISTORY, QUESTION_METADATA and SOLVING_STATS;
4. empties the tables again and times the baseline on the same changes: per batch of
   `--batch` changes, one transaction with COPY into ANSWER_HISTORY, COPY into a temporary
   table and one INSERT ... ON CONFLICT upsert into ANSWER_DATA (the storage limit of
   ../shared/PERFORMANCE.md).

Prints one JSON object: the runs, and the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exam_platform.settings.local")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone as django_timezone  # noqa: E402

from answers.keys import ANSWER_STREAMS, FLUSH_GROUP  # noqa: E402
from answers.redis_scripts import SYNC_APPLY, script  # noqa: E402
from answers.selectors import examinee_context_get  # noqa: E402
from answers.services.flush import answer_queue_ensure, answer_queue_flush  # noqa: E402
from answers.services.protocol import answer_sync_validate  # noqa: E402
from answers.services.sync import answer_sync_prepare  # noqa: E402
from bench.loadgen import KOREAN_ANSWERS, NUMERIC_ANSWERS, checksum  # noqa: E402
from exam_platform.redis import redis_client  # noqa: E402
from exam_platform.runtime import gc_tune  # noqa: E402
from plans.choices import ExamStatus  # noqa: E402
from plans.models import ExamineeProgress  # noqa: E402
from plans.services.lifecycle import examinee_exam_begin  # noqa: E402

KST = timezone(timedelta(hours=9))
TABLES = ("ANSWER_HISTORY", "ANSWER_DATA", "QUESTION_METADATA", "SOLVING_STATS")


def tables_empty(plan_id: str) -> None:
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f'DELETE FROM "{table}" WHERE plan_id = %s', [plan_id])
        for table in TABLES:
            cursor.execute(f'VACUUM ANALYZE "{table}"')


def changes_make(contexts: list, entries: int, rng: random.Random) -> list[dict]:
    """`entries` answer.sync messages of one change each, round-robin over the examinees."""
    versions: dict[tuple[str, str], int] = {}
    messages = []
    now = datetime.now(KST)
    for number in range(entries):
        context = contexts[number % len(contexts)]
        rule = rng.choice(list(context.paper.rules.values()))
        if rule.question_type == "MULTIPLE_CHOICE":
            value = rng.choice(sorted(rule.choices))
        else:
            value = rng.choice(NUMERIC_ANSWERS if rule.max_length <= 20 else KOREAN_ANSWERS)[: rule.max_length]
        key = (context.examinee_id, rule.question_id)
        versions[key] = versions.get(key, 0) + 1
        stamp = (now + timedelta(milliseconds=number)).isoformat(timespec="milliseconds")
        answers = {rule.question_id: {"value": value, "version": versions[key], "updated": stamp}}
        messages.append(
            {
                "type": "answer.sync",
                "seq": number,
                "examId": context.plan_id,
                "testCode": context.test_code,
                "userId": context.examinee_id,
                "timestamp": stamp,
                "answers": answers,
                "metadata": {
                    "device": {"type": "PC", "browser": "Chrome 131", "os": "Windows 11"},
                    "behavior": {
                        "focusTime": rng.randint(1, 300),
                        "editCount": versions[key],
                        "keystrokes": 3,
                        "clicks": 2,
                        "scrolls": 1,
                        "visits": 1,
                        "focusLost": 0,
                        "navigation": [],
                    },
                },  # fmt: skip
                "status": "IN_PROGRESS",
                "priority": "normal",
                "checksum": checksum(answers),
            }
        )
    return messages


def queue_fill(contexts_by_id: dict, messages: list[dict]) -> list[tuple]:
    """Push the messages through the real sync preparation and Lua script; return the stored rows."""
    client = redis_client()
    client.flushdb()
    answer_queue_ensure(client)
    sync_script = script(SYNC_APPLY)
    rows = []
    now = django_timezone.now()
    pipe = client.pipeline(transaction=False)
    for number, message in enumerate(messages, start=1):
        sync = answer_sync_validate(message)
        context = contexts_by_id[sync.user_id]
        prepared = answer_sync_prepare(context=context, message=sync, now=now)
        sync_script(keys=prepared.keys, args=prepared.args, client=pipe)
        change = sync.answers[0]
        rule = context.paper.rules[change.question_id]
        rows.append((context.examinee_id, context.group_id, context.plan_id, sync.exam_id, sync.user_id,
                     change.question_id, rule.question_type, change.value, now,
                     int(sync.behavior.focus_time), change.version))  # fmt: skip
        if number % 1000 == 0:
            pipe.execute()
    pipe.execute()
    return rows


def queue_length() -> int:
    client = redis_client()
    return sum(client.xlen(stream) for stream in ANSWER_STREAMS)


def platform_flush_time(entries: int) -> tuple[float, int]:
    """Seconds until answer_queue_flush has committed every entry; and how many it committed."""
    committed = 0
    began = time.perf_counter()
    while committed < entries:
        result = answer_queue_flush(max_batches=200, time_budget=30.0)  # the platform's batch size
        committed += result.committed
        if result.read == 0:
            break
    elapsed = time.perf_counter() - began
    pending = sum(int(redis_client().xpending(stream, FLUSH_GROUP)["pending"]) for stream in ANSWER_STREAMS)
    if pending:
        raise SystemExit(f"the flush left {pending} entries pending")
    return elapsed, committed


def baseline_time(rows: list[tuple], batch: int) -> float:
    """Seconds for COPY history + COPY temp + upsert of the same changes, `batch` per transaction."""
    raw = connection.connection  # Django's psycopg connection
    began = time.perf_counter()
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        with raw.transaction():
            with raw.cursor() as cursor:
                cursor.execute(
                    'CREATE TEMP TABLE IF NOT EXISTS bench_latest (LIKE "ANSWER_DATA" INCLUDING DEFAULTS) '
                    "ON COMMIT DELETE ROWS"
                )
                with cursor.copy(
                    'COPY "ANSWER_HISTORY" (examinee_id, group_id, plan_id, exam_id, user_id, question_id, '
                    'answer_value, "timestamp", duration, version) FROM STDIN'
                ) as copy:
                    for row in chunk:
                        copy.write_row((*row[:6], row[7], row[8], row[9], row[10]))
                with cursor.copy(
                    "COPY bench_latest (id, examinee_id, group_id, plan_id, exam_id, user_id, question_id, "
                    "answer_type, answer_value, last_modified, version) FROM STDIN"
                ) as copy:
                    for number, row in enumerate(chunk):
                        copy.write_row((number, *row[:9], row[10]))
                cursor.execute(
                    'INSERT INTO "ANSWER_DATA" (examinee_id, group_id, plan_id, exam_id, user_id, question_id, '
                    "answer_type, answer_value, last_modified, version) "
                    "SELECT DISTINCT ON (examinee_id, question_id) examinee_id, group_id, plan_id, exam_id, user_id, "
                    "question_id, answer_type, answer_value, last_modified, version FROM bench_latest "
                    "ORDER BY examinee_id, question_id, version DESC "
                    "ON CONFLICT (examinee_id, question_id) DO UPDATE SET answer_value = EXCLUDED.answer_value, "
                    "answer_type = EXCLUDED.answer_type, last_modified = EXCLUDED.last_modified, "
                    'version = EXCLUDED.version WHERE "ANSWER_DATA".version < EXCLUDED.version'
                )
    return time.perf_counter() - began


def counts(plan_id: str) -> dict[str, int]:
    with connection.cursor() as cursor:
        result = {}
        for table in ("ANSWER_HISTORY", "ANSWER_DATA"):
            cursor.execute(f'SELECT COUNT(*) FROM "{table}" WHERE plan_id = %s', [plan_id])
            result[table] = cursor.fetchone()[0]
        return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plan-id", default="DEMO")
    parser.add_argument("--examinees", type=int, default=2000)
    parser.add_argument("--entries", type=int, default=20000)
    parser.add_argument(
        "--batch", type=int, default=0, help="Changes per baseline transaction (default: ANSWER_FLUSH_BATCH_SIZE)."
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--prepare-only", action="store_true", help="Only begin the examinees' exam, then stop.")
    options = parser.parse_args()
    options.batch = options.batch or settings.ANSWER_FLUSH_BATCH_SIZE  # the same batch as the flush's
    # The collector as in a Celery pool process (exam_platform.celery.worker_process_tune), for both.
    gc_tune(threshold=settings.WORKER_GC_THRESHOLD)
    rng = random.Random("flush")
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute(
            'SELECT examinee_id FROM "EXAMINEE" WHERE plan_id = %s ORDER BY examinee_id LIMIT %s',
            [options.plan_id, options.examinees],
        )
        examinee_ids = [row[0] for row in cursor.fetchall()]
    # Examinees begin when their socket connects; these never connected, so they begin here.
    waiting = ExamineeProgress.objects.filter(pk__in=examinee_ids, exam_status_code=ExamStatus.WAITING)
    for examinee_id in waiting.values_list("pk", flat=True):
        examinee_exam_begin(examinee_id=examinee_id, actor="bench")
    if options.prepare_only:
        return 0
    contexts = [examinee_context_get(examinee_id=examinee_id) for examinee_id in examinee_ids]
    contexts_by_id = {context.examinee_id: context for context in contexts}
    runs = []
    for number in range(1, options.runs + 1):
        messages = changes_make(contexts, options.entries, rng)
        tables_empty(options.plan_id)
        began = time.perf_counter()
        rows = queue_fill(contexts_by_id, messages)
        fill_seconds = time.perf_counter() - began
        if queue_length() != options.entries:
            raise SystemExit(f"queue holds {queue_length()} entries, {options.entries} expected")
        flush_seconds, committed = platform_flush_time(options.entries)
        flushed = counts(options.plan_id)
        tables_empty(options.plan_id)
        base_seconds = baseline_time(rows, options.batch)
        based = counts(options.plan_id)
        if flushed != based:
            raise SystemExit(f"the flush stored {flushed}, the baseline {based}: not the same rows")
        run = {
            "entries": options.entries,
            "committed": committed,
            "rows": flushed,
            "fill_seconds": round(fill_seconds, 2),
            "flush_seconds": round(flush_seconds, 3),
            "flush_changes_per_second": round(options.entries / flush_seconds),
            "baseline_seconds": round(base_seconds, 3),
            "baseline_changes_per_second": round(options.entries / base_seconds),
        }
        run["ratio"] = round(run["flush_changes_per_second"] / run["baseline_changes_per_second"], 3)
        runs.append(run)
        print(json.dumps({"flush_run": number, **run}), file=sys.stderr, flush=True)
    tables_empty(options.plan_id)
    median = {
        key: statistics.median(run[key] for run in runs)
        for key in ("flush_changes_per_second", "baseline_changes_per_second", "ratio")
    }
    print(json.dumps({"runs": runs, "median": median, "examinees": len(contexts), "batch": options.batch}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
