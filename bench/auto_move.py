"""How long a stage auto-move of 5,000 examinees at one deadline takes (issue "Exam lifecycle and timing").

Seeds a started plan of 5,000 examinees in 10 groups with two stages (AUTO_MOVE 'Y') into a
scratch PostgreSQL database, then, 3 times: puts every examinee in stage 1 with a deadline that
just passed, and times `stage_deadlines_enforce` (what the beat task runs every second) moving
all of them to stage 2. Writes the median, the spread and the machine into the "## auto-move"
section of docs/benchmarks.md. Timing is never asserted in a test.

Usage: `.venv/bin/python bench/auto_move.py [--examinees 5000]` (DATABASE_URL's server, else
127.0.0.1:5432, else a throwaway PostgreSQL). The scratch database `bench_automove` is dropped after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from psycopg import sql  # noqa: E402

from bench.seed_demo import admin_execute, doc_write, drop, machine, manage, with_database  # noqa: E402
from exam_platform.embedded import port_is_open, postgres_start  # noqa: E402

RUNS = 3
SCRATCH_DB = "bench_automove"
HEADING = "## auto-move"

# Runs inside `manage.py shell`: reset everyone to stage 1 with a passed deadline, then time the sweep.
RUN_ONE = """
import json, time
from datetime import timedelta
from django.utils import timezone
from plans.models import ExamineeProgress, TestStage
from plans.services.lifecycle import stage_deadlines_enforce
first = TestStage.objects.filter(plan_id="AUTOMOVE").order_by("stage_order").first()
now = timezone.now()
ExamineeProgress.objects.filter(plan_id="AUTOMOVE").update(
    exam_status_code="IN_PROGRESS", current_stage=first, stage_extra_seconds=0,
    stage_started_at=now - timedelta(seconds=first.time_limit), stage_deadline=now - timedelta(milliseconds=1))
begin = time.perf_counter()
moved = stage_deadlines_enforce(now=now)
seconds = time.perf_counter() - begin
left = ExamineeProgress.objects.filter(plan_id="AUTOMOVE", current_stage=first).count()
print("RESULT " + json.dumps({"moved": moved, "seconds": seconds, "left_behind": left}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examinees", type=int, default=5000)
    options = parser.parse_args()
    started_server = None
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url:
        if port_is_open("127.0.0.1", 5432):
            base_url = "postgres://postgres@127.0.0.1:5432/postgres"
        else:
            started_server = postgres_start()
            base_url = started_server.url
    admin_url = with_database(base_url, "postgres")
    env = {
        **os.environ,
        "DATABASE_URL": with_database(base_url, SCRATCH_DB),
        "DJANGO_SETTINGS_MODULE": "exam_platform.settings.local",
        "DJANGO_DEBUG": "false",
        "EXAM_VAR_DIR": tempfile.mkdtemp(prefix="bench-automove-"),
    }
    try:
        facts = machine(admin_url)
        drop(admin_url, SCRATCH_DB)
        admin_execute(admin_url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(SCRATCH_DB)))
        manage(["migrate", "--noinput", "-v", "0"], env)
        manage(["seed_demo", "--plan-id", "AUTOMOVE", "--examinees", str(options.examinees), "--groups", "10",
                "--stages", "2"], env)  # fmt: skip
        runs = []
        for index in range(1, RUNS + 1):
            output = manage(["shell", "-c", RUN_ONE], env).stdout
            result = json.loads(output.split("RESULT ", 1)[1])
            if result["moved"] != options.examinees or result["left_behind"] != 0:
                raise SystemExit(f"run {index}: moved {result['moved']}, left behind {result['left_behind']}")
            runs.append(result)
            print(
                f"[bench auto-move] run {index}: {result['moved']} examinees in {result['seconds']:.3f} s", flush=True
            )
        seconds = [run["seconds"] for run in runs]
        date = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        doc_write(
            f"""{HEADING}

How long the deadline sweep (`plans.services.lifecycle.stage_deadlines_enforce`, run by beat every
second) takes to move {options.examinees:,} examinees of 10 groups from stage 1 to stage 2 at one
deadline: every row locked, moved, its new deadline set, one audit row each, one doorbell per group.

- Command: `.venv/bin/python bench/auto_move.py --examinees {options.examinees}` (part of `make bench`)
- Date: {date}
- Machine: {facts["nproc"]} cores ({facts["cpu"]}), {facts["memory"]}, Python {facts["python"]},
  PostgreSQL {facts["postgresql"]}, {facts["os"]}; load average at start {facts["load"]} (shared machine)

| run | examinees moved | seconds |
| --- | ---: | ---: |
"""
            + "".join(f"| {i} | {run['moved']:,} | {run['seconds']:.3f} |\n" for i, run in enumerate(runs, 1))
            + f"\nMedian {statistics.median(seconds):.3f} s (min {min(seconds):.3f} s, max {max(seconds):.3f} s).\n",
            heading=HEADING,
        )
        return 0
    finally:
        drop(admin_url, SCRATCH_DB)
        if started_server is not None:
            started_server.stop()


if __name__ == "__main__":
    sys.exit(main())
