"""`make run` end to end: scripts/run_platform.py on its embedded defaults (SQLite, a real Valkey/Redis)."""

import csv
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from exam_platform.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
START_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_SECONDS = 30


def log_tail(path: Path, lines: int = 60) -> str:
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def wait_for_200(base: str, paths: list[str], process: subprocess.Popen, log: Path) -> dict[str, httpx.Response]:
    """Poll until every path answers 200; fail early, with the log, if the launcher exits."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    answers: dict[str, httpx.Response] = {}
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"run_platform.py exited with {process.returncode} before serving:\n{log_tail(log)}")
        for path in paths:
            if path in answers:
                continue
            try:
                response = httpx.get(base + path, timeout=5)
            except httpx.HTTPError:
                break
            if response.status_code == 200:
                answers[path] = response
        if len(answers) == len(paths):
            return answers
        time.sleep(0.5)
    pytest.fail(f"no 200 from {paths} within {START_TIMEOUT_SECONDS} s:\n{log_tail(log)}")


def is_gone(process: psutil.Process) -> bool:
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def command_line(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return "?"


@pytest.fixture
def platform(tmp_path):
    """scripts/run_platform.py started as `make run` would, without DATABASE_URL and REDIS_URL.

    Yields (process, base URL, var dir, log path); whatever is still running afterwards is killed.
    """
    port = free_port()
    var_dir = tmp_path / "var"
    log = tmp_path / "run.log"
    env = {name: value for name, value in os.environ.items() if name not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DJANGO_SETTINGS_MODULE="exam_platform.settings.local", EXAM_VAR_DIR=str(var_dir), PORT=str(port))
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "run_platform.py")],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    tree = [psutil.Process(process.pid)]
    try:
        yield process, f"http://127.0.0.1:{port}", var_dir, log
    finally:
        if process.poll() is None:
            tree += psutil.Process(process.pid).children(recursive=True)
        for member in tree:
            if not is_gone(member):
                member.kill()


@pytest.mark.slow
def test_make_run_serves_the_demo_and_stops_every_process_on_sigint(platform):
    """Without DATABASE_URL/REDIS_URL the platform comes up, serves admin and health, and SIGINT stops it all."""
    # given
    process, base, var_dir, log = platform

    # when
    answers = wait_for_200(base, ["/admin/login/", "/healthz"], process, log)

    # then: it serves, on SQLite and the embedded Redis, under EXAM_VAR_DIR
    assert answers["/healthz"].json() == {"ok": True, "checks": {"database": "ok", "redis": "ok"}}
    assert 'name="csrfmiddlewaretoken"' in answers["/admin/login/"].text
    assert httpx.get(f"{base}/static/admin/css/base.css", timeout=5).status_code == 200
    assert (var_dir / "db.sqlite3").is_file()
    assert (var_dir / "redis").is_dir()
    assert "[make run] registering the beat schedules" in log.read_text(encoding="utf-8").splitlines()
    with open(var_dir / "demo-credentials.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    roles = [row["role"] for row in rows]
    assert (roles.count("examinee"), roles.count("supervisor"), roles.count("operator")) == (30, 3, 1)
    operator = next(row for row in rows if row["role"] == "operator")
    examinee = next(row for row in rows if row["role"] == "examinee")
    banner = log.read_text(encoding="utf-8")
    assert f"{base}/admin/" in banner and f"{base}/healthz" in banner
    assert f"{operator['login_id']} / {operator['access_code_or_password']}" in banner
    assert f"{examinee['login_id']} / {examinee['access_code_or_password']}" in banner

    # then: the operator credentials of the CSV sign in to the admin
    with httpx.Client(base_url=base, timeout=10) as client:
        page = client.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        signed_in = client.post(
            "/admin/login/?next=/admin/",
            data={
                "csrfmiddlewaretoken": token,
                "username": operator["login_id"],
                "password": operator["access_code_or_password"],
                "next": "/admin/",
            },
            headers={"Referer": f"{base}/admin/login/"},
        )
        assert (signed_in.status_code, signed_in.headers.get("location")) == (302, "/admin/")

    children = psutil.Process(process.pid).children(recursive=True)
    commands = " ".join(command_line(child) for child in children)
    assert "daphne" in commands and " worker " in commands and " beat " in commands
    assert re.search(r"(redis|valkey)-server", commands)

    # when
    process.send_signal(signal.SIGINT)
    code = process.wait(STOP_TIMEOUT_SECONDS)

    # then
    assert code == 0, log_tail(log)
    psutil.wait_procs(children, timeout=5)
    assert [f"{child.pid} {command_line(child)}" for child in children if not is_gone(child)] == []
    assert log_tail(log, 1).endswith("stopped / 종료되었습니다")


@pytest.mark.slow
def test_make_run_stops_the_others_and_fails_when_a_child_dies(platform):
    """If daphne dies on its own, the launcher stops the worker, beat and Redis and exits non-zero, saying why."""
    # given
    process, base, _, log = platform
    wait_for_200(base, ["/healthz"], process, log)
    children = psutil.Process(process.pid).children(recursive=True)
    daphne = next(child for child in children if "daphne" in command_line(child))

    # when
    daphne.kill()
    code = process.wait(STOP_TIMEOUT_SECONDS)

    # then
    assert code == 1
    assert "[make run] ERROR / 오류: daphne was killed by signal 9; stopping the others" in log.read_text(
        encoding="utf-8"
    )
    psutil.wait_procs(children, timeout=5)
    assert [f"{child.pid} {command_line(child)}" for child in children if not is_gone(child)] == []
