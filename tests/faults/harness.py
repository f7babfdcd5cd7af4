"""Real processes for fault tests (../shared/RELIABILITY.md, "Fault-test plan"): a private Redis with AOF,
Celery workers and daphne as subprocesses, and a TCP proxy that can cut the database away."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import psutil
from django.conf import settings
from websockets.sync.client import connect

from exam_platform.embedded import free_port, port_is_open

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def database_address() -> tuple[str, int]:
    """(host or Unix socket directory, port) of the test database."""
    db = settings.DATABASES["default"]
    return db.get("HOST") or "127.0.0.1", int(db.get("PORT") or 5432)


def database_url(*, proxy_port: int | None = None) -> str:
    """The URL of the test database (the one pytest-django created), or of a TcpProxy in front of it."""
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    if proxy_port is not None:
        return f"postgres://{user}@127.0.0.1:{proxy_port}/{db['NAME']}"
    host, port = database_address()
    return f"postgres://{user}@{quote(host, safe='')}:{port}/{db['NAME']}"


def process_env(*, redis_url: str, db_url: str | None = None, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="exam_platform.settings.test",
        DATABASE_URL=db_url or database_url(),
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=redis_url.rsplit("/", 1)[0] + "/1",
        CHANNEL_LAYER_REDIS_URL=redis_url.rsplit("/", 1)[0] + "/2",
        ANSWER_FLUSH_CLAIM_IDLE_MS="2000",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class ManagedProcess:
    """A subprocess with its log file; killed with its whole tree at the end."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(args, env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.process.pid

    def children(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def wait_for_log(self, text: str, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_path.read_text(errors="replace"):
                return True
            if self.process.poll() is not None:
                return text in self.log_path.read_text(errors="replace")
            time.sleep(0.1)
        return False

    def kill(self) -> None:
        """SIGKILL the process and every child (a crash, not a shutdown)."""
        for child in self.children():
            child.kill()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            children = self.children()
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
            for child in children:
                if child.is_running():
                    child.kill()
        self.log.close()


def celery_worker(name: str, env: dict[str, str], log_dir: Path) -> ManagedProcess:
    worker = ManagedProcess(
        [str(BIN / "celery"), "-A", "exam_platform", "worker", "-P", "prefork", "-c", "1", "-n", f"{name}@%h",
         "--without-mingle", "--without-gossip", "-l", "info"],
        env,
        log_dir / f"{name}.log",
    )  # fmt: skip
    assert worker.wait_for_log("ready.", 60), worker.log_path.read_text()
    return worker


def celery_call(task: str, env: dict[str, str]) -> None:
    """Ring a task through the broker of `env`, as beat would."""
    subprocess.run([str(BIN / "celery"), "-A", "exam_platform", "call", task], env=env, cwd=ROOT, check=True,
                   capture_output=True, timeout=60)  # fmt: skip


def daphne(port: int, env: dict[str, str], log_dir: Path, name: str = "daphne") -> ManagedProcess:
    server = ManagedProcess(
        [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "--websocket_timeout", "-1",
         "exam_platform.asgi:application"],
        env,
        log_dir / f"{name}.log",
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not port_is_open("127.0.0.1", port, 0.2):
        assert time.monotonic() < deadline and server.process.poll() is None, server.log_path.read_text()
        time.sleep(0.1)
    return server


def examinee_sign_in(port: int, examinee, access_code: str) -> str:
    """The examinee's token from the live server's sign-in (POST /api/v1/examinee/login)."""
    credentials = {"planId": examinee.plan_id, "examineeId": examinee.pk, "accessCode": access_code}
    login = httpx.post(f"http://127.0.0.1:{port}/api/v1/examinee/login", json=credentials)
    assert login.status_code == 200, login.text
    return login.json()["token"]


def exam_socket_open(port: int, token: str):
    """An open `/ws/exam/` socket on the live server (retried for up to 30 s while it starts)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            url = f"ws://127.0.0.1:{port}/ws/exam/?token={token}"
            return connect(url, origin=f"http://127.0.0.1:{port}", open_timeout=5)
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.2)


def exam_socket_request(ws, message: dict) -> dict:
    """Send one message and return the next frame (the server answers every message once, in order)."""
    ws.send(json.dumps(message))
    return json.loads(ws.recv(timeout=10))


class TcpProxy:
    """A TCP forwarder to a target; `cut()` drops every connection and refuses new ones until `restore()`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._open = threading.Event()
        self._stop = threading.Event()
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.restore()
        self._thread.start()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.setblocking(False)
        self._listener = listener
        self._open.set()

    def cut(self) -> None:
        self._open.clear()
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            for conn in self._connections:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                conn.close()
            self._connections.clear()

    def close(self) -> None:
        self._stop.set()
        self.cut()

    def _connect_upstream(self) -> socket.socket:
        host, port = self.target
        if host.startswith("/"):  # PostgreSQL on a Unix socket (the throwaway server of make test)
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(f"{host}/.s.PGSQL.{port}")
            return upstream
        return socket.create_connection((host, port))

    def _serve(self) -> None:
        selector = selectors.DefaultSelector()
        peers: dict[socket.socket, socket.socket] = {}
        registered_listener = None
        while not self._stop.is_set():
            with self._lock:
                listener = self._listener
                if listener is not registered_listener:
                    if registered_listener is not None:
                        try:
                            selector.unregister(registered_listener)
                        except (KeyError, ValueError):
                            pass
                    if listener is not None:
                        selector.register(listener, selectors.EVENT_READ)
                    registered_listener = listener
                for sock in list(peers):
                    if sock.fileno() == -1:
                        try:
                            selector.unregister(sock)
                        except (KeyError, ValueError):
                            pass
                        peers.pop(sock, None)
            try:
                events = selector.select(timeout=0.1)
            except (OSError, ValueError):
                continue
            for key, _ in events:
                sock = key.fileobj
                if sock is registered_listener:
                    try:
                        client, _addr = sock.accept()
                    except OSError:
                        continue
                    upstream = self._connect_upstream()
                    for s in (client, upstream):
                        s.setblocking(False)
                    peers[client], peers[upstream] = upstream, client
                    with self._lock:
                        self._connections += [client, upstream]
                    selector.register(client, selectors.EVENT_READ)
                    selector.register(upstream, selectors.EVENT_READ)
                    continue
                try:
                    data = sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                other = peers.get(sock)
                if not data or other is None:
                    for s in (sock, other):
                        if s is not None:
                            try:
                                selector.unregister(s)
                            except (KeyError, ValueError):
                                pass
                            s.close()
                            peers.pop(s, None)
                    continue
                try:
                    other.setblocking(True)
                    other.sendall(data)
                    other.setblocking(False)
                except OSError:
                    pass
