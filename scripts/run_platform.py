"""`make run`: the whole platform in the foreground, with a demo exam to try at once.

Without DATABASE_URL it uses SQLite (settings.local: $EXAM_VAR_DIR/db.sqlite3); without
REDIS_URL it starts a real Redis-compatible server (exam_platform.embedded, AOF on, noeviction)
under $EXAM_VAR_DIR/redis and hands its URL to the children. It migrates, registers the beat
schedules (`setup_periodic_tasks`, idempotent), collects static files, seeds the demo plan once
(`seed_demo --if-empty`), then runs daphne, a Celery worker and Celery beat. Ctrl-C or SIGTERM
stops every process it started and exits 0; a child that dies on its own stops the others and
makes it exit non-zero.

Environment: PORT (default 8000), EXAM_VAR_DIR (default ./var), DATABASE_URL, REDIS_URL,
WEBSOCKET_MAX_MESSAGE_BYTES (default 256 KiB, as in settings), DJANGO_SETTINGS_MODULE (default
exam_platform.settings.local).
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exam_platform.embedded import RedisProcess, free_port, port_is_open, redis_start  # noqa: E402

BIN = Path(sys.executable).parent
PREFERRED_REDIS_PORT = 6380
READY_TIMEOUT_SECONDS = 90
STOP_TIMEOUT_SECONDS = 20
# Same default as settings.integrations.channels.WEBSOCKET_MAX_MESSAGE_BYTES; daphne >= 4.2.2 enforces it.
DEFAULT_WEBSOCKET_MAX_MESSAGE_BYTES = 256 * 1024


def say(message: str) -> None:
    print(f"[make run] {message}", flush=True)


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived: stop everything and exit 0."""


class StepFailed(Exception):
    """A preparation step or a service failed: stop everything and exit non-zero."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        # A child killed by a signal has a negative return code; the launcher's own exit is then 1.
        self.code = code if code > 0 else 1


@dataclass
class Child:
    name: str
    process: subprocess.Popen


class Launcher:
    """Starts the children, each in its own session (so one signal reaches each whole process tree), and stops them."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.children: list[Child] = []
        self.redis: RedisProcess | None = None
        self.stop_requested = False
        self.signals_received = 0

    # Signals -------------------------------------------------------------------------------
    def signal_received(self, signum: int, frame: object) -> None:
        # Only a flag here: the main loop does the work, outside the handler.
        self.signals_received += 1
        self.stop_requested = True

    def check_stop(self) -> None:
        if self.stop_requested:
            raise Interrupted

    # Processes -----------------------------------------------------------------------------
    def popen(self, args: list[str]) -> subprocess.Popen:
        return subprocess.Popen(args, cwd=ROOT, env=self.env, start_new_session=True)

    def run_step(self, description: str, args: list[str]) -> None:
        """Run one preparation command to its end; a stop request ends it early."""
        say(description)
        process = self.popen(args)
        while process.poll() is None:
            if self.stop_requested:
                self.process_group_stop(process, timeout=STOP_TIMEOUT_SECONDS)
                raise Interrupted
            time.sleep(0.1)
        if process.returncode != 0:
            raise StepFailed(f"{description} failed with exit code {process.returncode}", process.returncode)

    def start(self, name: str, args: list[str]) -> None:
        self.children.append(Child(name, self.popen(args)))

    def redis_start(self, data_dir: Path) -> str:
        port = PREFERRED_REDIS_PORT if not port_is_open("127.0.0.1", PREFERRED_REDIS_PORT) else free_port()
        self.redis = redis_start(data_dir, port)
        return self.redis.url

    def first_dead_child(self) -> Child | None:
        for child in self.children:
            if child.process.poll() is not None:
                return child
        if self.redis and self.redis.process and self.redis.process.poll() is not None:
            return Child("redis", self.redis.process)
        return None

    def wait_until_listening(self, port: int) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not port_is_open("127.0.0.1", port, 0.2):
            self.check_stop()
            self.raise_if_a_child_died()
            if time.monotonic() > deadline:
                raise StepFailed(f"daphne did not listen on port {port} within {READY_TIMEOUT_SECONDS} s")
            time.sleep(0.2)

    def raise_if_a_child_died(self) -> None:
        dead = self.first_dead_child()
        if dead is not None:
            code = dead.process.returncode
            how = f"was killed by signal {-code}" if code < 0 else f"exited unexpectedly with {code}"
            raise StepFailed(f"{dead.name} {how}; stopping the others", code)

    def watch(self) -> None:
        """Block until a stop is requested (Interrupted) or a child dies (StepFailed)."""
        while True:
            self.check_stop()
            self.raise_if_a_child_died()
            time.sleep(0.3)

    @staticmethod
    def process_group_signal(process: subprocess.Popen, signum: int) -> None:
        try:
            os.killpg(process.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def process_group_stop(self, process: subprocess.Popen, timeout: float) -> None:
        self.process_group_signal(process, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        # Whatever is left of the tree (a worker's pool processes, a hung leader) is killed.
        self.process_group_signal(process, signal.SIGKILL)
        if process.poll() is None:
            process.wait(5)

    def stop_all(self) -> None:
        """Stop daphne, beat and the worker together (SIGTERM, then SIGKILL), then Redis last."""
        running = [child for child in self.children if child.process.poll() is None]
        if running:
            say("stopping: " + ", ".join(child.name for child in running))
        for child in running:
            self.process_group_signal(child.process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for child in self.children:
            remaining = max(0.1, deadline - time.monotonic())
            if self.signals_received >= 2:  # a second Ctrl-C: no more waiting
                remaining = 0.1
            try:
                child.process.wait(remaining)
            except subprocess.TimeoutExpired:
                say(f"{child.name} did not stop within {STOP_TIMEOUT_SECONDS} s; killing it")
            self.process_group_signal(child.process, signal.SIGKILL)
            if child.process.poll() is None:
                child.process.wait(5)
        if self.redis is not None:
            say("stopping: redis")
            self.redis.stop()
            self.redis = None


def database_description(env: dict[str, str], var_dir: Path) -> str:
    url = env.get("DATABASE_URL", "")
    if not url:
        return f"SQLite {var_dir / 'db.sqlite3'}"
    parts = urlsplit(url)
    host = parts.hostname or "local socket"
    return f"{parts.scheme} {host}{':' + str(parts.port) if parts.port else ''}{parts.path}"


def credentials_sample(path: Path) -> dict[str, list[str]]:
    """The first examinee, supervisor and operator rows of the demo credentials CSV."""
    sample: dict[str, list[str]] = {}
    if not path.exists():
        return sample
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            sample.setdefault(
                row["role"], [row["plan_id"], row["group_id"], row["login_id"], row["access_code_or_password"]]
            )
    return sample


def banner(*, port: int, credentials: Path, env: dict[str, str], var_dir: Path, redis_note: str) -> str:
    base = f"http://127.0.0.1:{port}"
    sample = credentials_sample(credentials)
    lines = [
        "=" * 78,
        "온라인 시험 플랫폼이 실행 중입니다. / The exam platform is running.",
        f"  관리자 화면 / Operator admin:     {base}/admin/",
        f"  수험자 화면 / Examinee page:      {base}/",
        f"  상태 확인 / Health check:         {base}/healthz",
        f"  계정 파일 / Credentials CSV:      {credentials}",
    ]
    if "operator" in sample:
        _, _, login, secret = sample["operator"]
        lines.append(f"  운영자 / Operator:                {login} / {secret}")
    if "supervisor" in sample:
        _, group, login, secret = sample["supervisor"]
        lines.append(f"  감독관 / Supervisor ({group}): {login} / {secret}")
    if "examinee" in sample:
        plan, group, login, secret = sample["examinee"]
        lines.append(f"  수험자 / Examinee ({group}):   {login} / {secret}  (시험 계획 / plan {plan})")
    if not sample:
        lines.append("  계정 파일이 없습니다: seed_demo --force 로 다시 만드세요.")
        lines.append("  The credentials file is missing: run `manage.py seed_demo --force` to make new ones.")
    lines += [
        f"  데이터베이스 / Database:          {database_description(env, var_dir)}",
        f"  Redis:                            {redis_note}",
        "  종료하려면 Ctrl-C / Press Ctrl-C to stop.",
        "=" * 78,
    ]
    return "\n".join(lines)


def executable(name: str) -> str:
    candidate = BIN / name
    return str(candidate) if candidate.exists() else name


def main() -> int:
    var_dir = Path(os.environ.get("EXAM_VAR_DIR") or ROOT / "var").resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    port = int(os.environ.get("PORT") or 8000)
    env = dict(os.environ)
    env["EXAM_VAR_DIR"] = str(var_dir)
    env["DJANGO_SETTINGS_MODULE"] = env.get("DJANGO_SETTINGS_MODULE") or "exam_platform.settings.local"
    env["PYTHONUNBUFFERED"] = "1"
    credentials = var_dir / "demo-credentials.csv"
    launcher = Launcher(env)
    signal.signal(signal.SIGINT, launcher.signal_received)
    signal.signal(signal.SIGTERM, launcher.signal_received)

    code = 0
    try:
        if port_is_open("127.0.0.1", port):
            raise StepFailed(f"port {port} is already in use; set PORT to a free port (PORT=8001 make run)", 2)
        if env.get("REDIS_URL"):
            redis_note = "REDIS_URL"
        else:
            try:
                env["REDIS_URL"] = launcher.redis_start(var_dir / "redis")
            except RuntimeError as error:
                raise StepFailed(f"the embedded Redis did not start: {error}") from error
            redis_note = f"embedded {env['REDIS_URL']} (AOF, data in {var_dir / 'redis'})"
            say(f"started Redis-compatible server: {env['REDIS_URL']}")
        launcher.check_stop()
        python = sys.executable
        manage = str(ROOT / "manage.py")
        launcher.run_step("migrating the database", [python, manage, "migrate", "--noinput", "-v", "1"])
        launcher.run_step("registering the beat schedules", [python, manage, "setup_periodic_tasks"])
        launcher.run_step("collecting static files", [python, manage, "collectstatic", "--noinput", "-v", "0"])
        launcher.run_step(
            "seeding the demo exam (once)", [python, manage, "seed_demo", "--if-empty", "--output", str(credentials)]
        )
        websocket_limit = env.get("WEBSOCKET_MAX_MESSAGE_BYTES") or str(DEFAULT_WEBSOCKET_MAX_MESSAGE_BYTES)
        launcher.start(
            "daphne",
            [
                executable("daphne"),
                "-b", "127.0.0.1",
                "-p", str(port),
                "--websocket-max-message-size", websocket_limit,
                "--websocket-max-frame-size", websocket_limit,
                "exam_platform.asgi:application",
            ],
        )  # fmt: skip
        launcher.start(
            "celery worker",
            [
                executable("celery"), "-A", "exam_platform", "worker",
                "-l", "info", "-c", "2", "-Q", "celery,answers,media,logs", "-n", f"run-{port}@%h",
            ],
        )  # fmt: skip
        launcher.start("celery beat", [executable("celery"), "-A", "exam_platform", "beat", "-l", "info"])
        launcher.wait_until_listening(port)
        print(banner(port=port, credentials=credentials, env=env, var_dir=var_dir, redis_note=redis_note), flush=True)
        launcher.watch()
    except Interrupted:
        say("stop requested / 종료 요청을 받았습니다")
    except StepFailed as failure:
        say(f"ERROR / 오류: {failure}")
        code = failure.code
    finally:
        launcher.stop_all()
    say("stopped / 종료되었습니다" if code == 0 else f"exited with {code}")
    return code


if __name__ == "__main__":
    sys.exit(main())
