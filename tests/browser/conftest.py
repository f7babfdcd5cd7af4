"""Real-browser tests of the exam page: Debian's Chromium, driven headless by Playwright, against the
real platform: daphne (the ASGI server) and a Celery worker as subprocesses, on the test PostgreSQL
database and this run's Redis database, with a doorbell thread that rings the flush task.

Nothing is emulated on the server side: the page talks WebSocket to daphne, daphne writes Redis,
the worker flushes into PostgreSQL and rings `answer.committed` through the channel layer.
Where Chromium, Playwright or axe-core is missing, the tests skip and say what to install
(`make test` installs them: chromium with apt-get, axe-core with npm ci).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from exam_platform.embedded import free_port, port_is_open
from plans.models import Question
from plans.services.access import examinee_access_codes_issue
from plans.services.lifecycle import plan_start
from tests.browser.helpers import off_loop
from tests.plans.factories import QuestionFactory

ROOT = Path(__file__).resolve().parent.parent.parent
BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# Downloads are blocked: Playwright never fetches a browser; it drives the system's Chromium.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT_SECONDS = 90
FLUSH_BELL_SECONDS = 0.5


def skip_or_fail(reason: str) -> None:
    """Skip on a developer's machine without a browser; in CI (CI=true) a missing browser is a failure,
    so a green CI can never hide browser tests that did not run."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the browser tests: {reason}")
    pytest.skip(reason)


def browser_missing_reason() -> str | None:
    """Why the browser tests cannot run on this machine, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -r requirements-dev.txt)"
    if not CHROMIUM.exists():
        return f"Debian's Chromium is not at {CHROMIUM} (`make test` installs it: apt-get install chromium)"
    return None


def _database_url() -> str:
    """The URL of the test database (pytest-django renamed it), for the subprocesses."""
    db = settings.DATABASES["default"]
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    # A Unix-socket directory (make test's throwaway PostgreSQL) goes percent-encoded in the host.
    host = quote(host, safe="") if host.startswith("/") else host
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{credentials}@{host}{port}/{quote(db['NAME'], safe='')}"


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group (started in its own session), SIGKILL after 15 s."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=15)


def _wait(predicate, *, what: str, log: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if predicate():
            return
        if process.poll() is not None:
            break
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise RuntimeError(f"{what} did not start (exit code {process.poll()}):\n{tail}")


class FlushBell(threading.Thread):
    """Rings answers.tasks.answer_queue_flush_task every half second, as beat would every second."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="flush-bell")
        self.stopped = threading.Event()
        self.ringing = threading.Event()
        self.ringing.set()

    def run(self) -> None:
        from answers.tasks import answer_queue_flush_task

        while not self.stopped.wait(FLUSH_BELL_SECONDS):
            if not self.ringing.is_set():
                continue
            try:
                answer_queue_flush_task.delay()
            except Exception:  # a missed ring costs latency only; the next one follows
                pass

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)


@dataclass
class Platform:
    url: str
    daphne_log: Path
    worker_log: Path
    bell: FlushBell


def _database_quiet(*, timeout: float = 15.0) -> bool:
    """Wait until no other session on the test database is inside a statement or a transaction.

    pytest-django empties the tables after each test with TRUNCATE, which deadlocks against a
    flush or a socket-session write still running in the worker or daphne.
    """
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND state IS NOT NULL AND state <> 'idle'"
            )
            busy = cursor.fetchone()[0]
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= 0.5:
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(scope="module")
def platform(django_db_setup, tmp_path_factory):
    """daphne and a Celery worker on the test database and this run's Redis database, for one module."""
    reason = browser_missing_reason()
    if reason:
        skip_or_fail(reason)
    from exam_platform.redis import redis_client

    # Only this run's Redis database (REDIS_URL), emptied before the worker registers its queues in it.
    redis_client().flushdb()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "exam_platform.settings.test",
        "PYTHONUNBUFFERED": "1",
    }
    logs = tmp_path_factory.mktemp("platform")
    port = free_port()
    limit = str(settings.WEBSOCKET_MAX_MESSAGE_BYTES)
    daphne_log = logs / "daphne.log"
    worker_log = logs / "worker.log"
    processes: list[subprocess.Popen] = []
    bell = FlushBell()

    def start(command: list[str], log: Path) -> subprocess.Popen:
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        processes.append(process)
        return process

    try:
        daphne = start(
            [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "--websocket-max-message-size", limit,
             "--websocket-max-frame-size", limit, "tests.browser.asgi:application"],
            daphne_log,
        )  # fmt: skip
        worker = start(
            [str(BIN / "celery"), "-A", "exam_platform", "worker", "-P", "solo", "-l", "info",
             "-n", f"browser-{os.getpid()}@%h", "-Q", "celery,answers,media,logs"],
            worker_log,
        )  # fmt: skip
        _wait(lambda: port_is_open("127.0.0.1", port), what="daphne", log=daphne_log, process=daphne)
        _wait(lambda: b" ready." in worker_log.read_bytes(), what="the Celery worker", log=worker_log, process=worker)
        bell.start()
        yield Platform(url=f"http://127.0.0.1:{port}", daphne_log=daphne_log, worker_log=worker_log, bell=bell)
    finally:
        if bell.is_alive():
            bell.stop()
        for process in reversed(processes):
            _stop(process)
        redis_client().flushdb()


@pytest.fixture(scope="module")
def chromium(platform):
    """Debian's Chromium under Playwright, one per module.

    Playwright's sync API keeps an event loop in the test thread, so Django's guard against
    database calls from async code would refuse the test's plain ORM calls (and pytest-django's
    flush between tests): the test thread runs no async code of ours, so the guard is lifted
    while the browser runs, and restored after.
    """
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def quiet_after_test(transactional_db, platform):
    """After the test (its browser closed), stop ringing the flush and let the subprocesses finish
    their database work before pytest-django empties the tables."""
    platform.bell.ringing.set()
    yield
    platform.bell.ringing.clear()
    time.sleep(FLUSH_BELL_SECONDS)
    _database_quiet()


@pytest.fixture
def browser_context(chromium, platform, quiet_after_test):
    """A fresh browser profile (its own cookies and IndexedDB), Korean, on the platform's address."""
    contexts = []

    def make():
        context = chromium.new_context(base_url=platform.url, locale="ko-KR")
        context.set_default_timeout(20_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@dataclass
class Sitting:
    """A started exam with one examinee who has an access code: three multiple-choice questions and
    one short answer (Korean, at most 20 characters)."""

    plan_id: str
    examinee_id: str
    access_code: str
    test_code: str
    questions: list[Question]

    @property
    def short_answer(self) -> Question:
        return self.questions[-1]


@pytest.fixture
def sitting(plan, stage, group, examinee) -> Sitting:
    QuestionFactory(paper=stage.test_code, question_id=f"{stage.pk}-SA", question_no=999, question_type="SHORT_ANSWER",
                    body="훈민정음을 창제한 조선의 왕을 쓰시오.", choices=[], max_length=20, points=3)  # fmt: skip
    off_loop(plan_start, plan=plan, actor="test")  # its doorbell uses async_to_sync
    [(_, code)] = examinee_access_codes_issue(examinee_ids=[examinee.pk])
    questions = list(Question.objects.filter(paper_id=stage.test_code_id).order_by("question_no"))
    return Sitting(
        plan_id=plan.pk, examinee_id=examinee.pk, access_code=code, test_code=stage.test_code_id, questions=questions
    )


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_SCRIPT.exists():
        skip_or_fail(f"axe-core is not installed at {AXE_SCRIPT} (`make test` runs npm ci)")
    return AXE_SCRIPT.read_text()
