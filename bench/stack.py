"""The platform's processes for a benchmark: a private Redis, a scratch PostgreSQL database, daphne,
a Celery worker and beat, started the way scripts/run_platform.py starts them and stopped at the end.

Nothing here imports Django (the processes do); bench/run.py and tests/bench use it.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from exam_platform.embedded import RedisProcess, free_port, port_is_open, redis_start  # noqa: E402

BIN = Path(sys.executable).parent
WEBSOCKET_LIMIT = str(256 * 1024)


ASGI_SERVERS = ("daphne", "uvicorn")


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def executable(name: str) -> str:
    candidate = BIN / name
    return str(candidate) if candidate.exists() else name


def database_recreate(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_drop(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# Connections waiting to be accepted by the ASGI servers: an exam-start herd opens thousands at once, and
# uvicorn's default of 2,048 overflowed (about 1,900 WS-CONNECT of a herd of 10,000 on uvicorn × 2); the
# kernel caps it at net.core.somaxconn (4,096 here). daphne × N shares a socket bound with it too.
LISTEN_BACKLOG = 4096


def listening_socket(port: int = 0, backlog: int = LISTEN_BACKLOG) -> socket.socket:
    """A listening TCP socket on 127.0.0.1, inheritable, for several server processes to accept from (`--fd`)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def http_answers(port: int, timeout: float = 2.0) -> bool:
    """Whether a server answers an HTTP request on the port (any status): a pre-bound socket accepts
    connections before any server process does, so an open port says nothing."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
        connection.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def postgres_binaries() -> Path | None:
    """The directory of initdb and pg_ctl (the machine's PostgreSQL server), or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    return candidates[0].parent if candidates else None


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of the benchmark's own, on a free TCP port of 127.0.0.1, default settings.

    The machine's server is shared with other sessions; a herd of sign-ins opens one connection
    per concurrent request and would take their connections too. Run as root, the cluster belongs
    to the `postgres` user (initdb refuses root). `data_dir`'s parent is the cluster's own directory:
    it is made reachable for that user and removed by `stop()`.
    """

    data_dir: Path
    port: int = 0
    user: str | None = None

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, args: list[str], **kwargs: object) -> subprocess.CompletedProcess:
        if self.user:
            args = ["runuser", "-u", self.user, "--", *args]
        return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]

    def start(self) -> PrivatePostgres:
        binaries = postgres_binaries()
        if binaries is None:
            raise RuntimeError("no initdb/pg_ctl on this machine")
        self.user = "postgres" if os.geteuid() == 0 else None
        self.port = self.port or free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.user:
            # The parent must be reachable by that user: give it a directory of its own under /tmp.
            os.chmod(self.data_dir.parent, 0o755)
            shutil.chown(self.data_dir, self.user)
            shutil.chown(self.data_dir.parent, self.user)
        self._run([str(binaries / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                   "--locale=C.UTF-8"])  # fmt: skip
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.data_dir}"
        self._run([str(binaries / "pg_ctl"), "-D", str(self.data_dir), "-o", options, "-l",
                   str(self.data_dir / "server.log"), "-w", "start"])  # fmt: skip
        return self

    def stop(self) -> None:
        binaries = postgres_binaries()
        if binaries is not None and (self.data_dir / "postmaster.pid").exists():
            try:
                self._run([str(binaries / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])
            except subprocess.CalledProcessError as exc:
                say(f"could not stop the private PostgreSQL: {exc.stderr}")
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)

    def server_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the process group, then SIGKILL what is left of it."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.process.poll() is None:
            self.process.wait(5)

    def kill(self) -> None:
        """SIGKILL the process group at once (a crashed server: no graceful close of its sockets)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait(10)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Stack:
    """A private Redis and a scratch database, and the services started against them."""

    admin_url: str
    database: str
    work_dir: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    redis: RedisProcess | None = None
    services: list[Service] = field(default_factory=list)
    database_created: bool = False

    @property
    def database_url(self) -> str:
        return with_database(self.admin_url, self.database)

    @property
    def redis_url(self) -> str:
        assert self.redis is not None
        return self.redis.url

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        base = self.redis_url.rsplit("/", 1)[0]
        env.update(
            DJANGO_SETTINGS_MODULE="exam_platform.settings.local",
            DJANGO_DEBUG="false",
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            CELERY_BROKER_URL=f"{base}/1",
            CHANNEL_LAYER_REDIS_URL=f"{base}/2",
            EXAM_VAR_DIR=str(self.work_dir / "var"),
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.env_extra)
        return env

    # Preparation ---------------------------------------------------------------------------
    def redis_start(self) -> None:
        self.redis = redis_start(self.work_dir / "redis", free_port())

    def manage(self, *args: str, timeout: float = 600) -> str:
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result.stdout

    def database_prepare(self) -> None:
        """Create the scratch database and migrate it; register the beat schedules."""
        database_recreate(self.admin_url, self.database)
        self.database_created = True
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("setup_periodic_tasks")

    def seed(self, *, examinees: int, groups: int, questions: int = 10) -> Path:
        """seed_demo (again, replacing the plan): a freshly started exam and its credentials CSV."""
        output = self.work_dir / f"credentials-{examinees}.csv"
        self.manage(
            "seed_demo", "--force", "--examinees", str(examinees), "--groups", str(groups),
            "--questions", str(questions), "--output", str(output),
        )  # fmt: skip
        return output

    def redis_flush(self) -> None:
        """Empty the private Redis (answers, broker, channel layer) between scenarios."""
        import redis

        base = self.redis_url.rsplit("/", 1)[0]
        for number in (0, 1, 2):
            redis.Redis.from_url(f"{base}/{number}").flushdb()

    # Services ------------------------------------------------------------------------------
    def start(self, name: str, args: list[str], *, cpu: int | None = None, pass_fds: tuple[int, ...] = ()) -> Service:
        log_path = self.work_dir / f"{name}.log"
        log = open(log_path, "w")
        process = subprocess.Popen(
            args, cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            pass_fds=pass_fds,
        )  # fmt: skip
        log.close()
        if cpu is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(process.pid, {cpu})
        service = Service(name, process, log_path)
        self.services.append(service)
        return service

    def daphne_start(self, *, app: str = "exam_platform.asgi:application", name: str = "daphne",
                     cpu: int | None = None, port: int | None = None) -> tuple[Service, int]:  # fmt: skip
        port = port or free_port()
        service = self.start(
            name,
            [executable("daphne"), "-b", "127.0.0.1", "-p", str(port),
             "--websocket-max-message-size", WEBSOCKET_LIMIT, "--websocket-max-frame-size", WEBSOCKET_LIMIT, app],
            cpu=cpu,
        )  # fmt: skip
        deadline = time.monotonic() + 90
        while not port_is_open("127.0.0.1", port, 0.2):
            if not service.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not listen on {port}:\n{service.log_tail()}")
            time.sleep(0.2)
        return service, port

    def asgi_start(self, *, server: str = "daphne", processes: int = 1, app: str = "exam_platform.asgi:application",
                   port: int | None = None) -> tuple[list[Service], int]:  # fmt: skip
        """`processes` daphne or uvicorn processes serving `app` on one port; returns them and the port.

        daphne × 1 is `daphne_start`. daphne × N: one listening socket bound here and handed to each
        process with `--fd` (the kernel gives each connection to one of them). uvicorn: uvloop, httptools,
        the websockets sans-I/O protocol, the same 256 KiB message limit as daphne (`--ws-max-size`), no
        access log, no lifespan (Channels has none); × N is uvicorn's own `--workers N` (a supervisor
        that binds the port and hands it to its worker processes).
        """
        if server == "daphne" and processes == 1:
            service, port = self.daphne_start(app=app, port=port)
            return [service], port
        services: list[Service] = []
        if server == "daphne":
            sock = listening_socket(port or 0)
            port = sock.getsockname()[1]
            try:
                for number in range(1, processes + 1):
                    services.append(self.start(
                        f"daphne-{number}",
                        [executable("daphne"), "--fd", str(sock.fileno()), "--websocket-max-message-size",
                         WEBSOCKET_LIMIT, "--websocket-max-frame-size", WEBSOCKET_LIMIT, app],
                        pass_fds=(sock.fileno(),),
                    ))  # fmt: skip
            finally:
                sock.close()  # the processes hold their own copies
            # Django's logging config silences daphne's "Listening on"; its access log (stdout) is not: each
            # process is serving once a probe shows up in its log.
            marker, needed = '"GET /healthz', 1
        elif server == "uvicorn":
            port = port or free_port()
            args = [executable("uvicorn"), "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop",
                    "--http", "httptools", "--ws", "websockets-sansio", "--ws-max-size", WEBSOCKET_LIMIT,
                    "--backlog", str(LISTEN_BACKLOG), "--lifespan", "off", "--no-access-log",
                    "--log-level", "info"]  # fmt: skip
            if processes > 1:
                args += ["--workers", str(processes)]
            services.append(self.start("uvicorn", [*args, app]))
            marker, needed = "Started server process", processes
        else:
            raise ValueError(f"unknown ASGI server {server!r}")
        deadline = time.monotonic() + 120
        for service in services:
            while service.log_path.read_text(errors="replace").count(marker) < needed:
                if not service.alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"{service.name} did not start:\n{service.log_tail()}")
                if server == "daphne":  # a few probes at once, so that each process accepts one
                    probes = [threading.Thread(target=http_answers, args=(port,)) for _ in range(4)]
                    for probe in probes:
                        probe.start()
                    for probe in probes:
                        probe.join()
                time.sleep(0.2)
        while not http_answers(port):
            if not all(service.alive() for service in services) or time.monotonic() > deadline:
                raise RuntimeError(f"{server} × {processes} does not answer on {port}:\n{services[0].log_tail()}")
            time.sleep(0.3)
        return services, port

    def workers_start(self, *, concurrency: int = 2) -> tuple[Service, Service]:
        """The Celery worker (as `make run` starts it) and beat; waits until the worker is ready."""
        worker = self.start(
            "celery-worker",
            [executable("celery"), "-A", "exam_platform", "worker", "-l", "info", "-c", str(concurrency),
             "-Q", "celery,answers,media,logs", "-n", f"bench-{os.getpid()}@%h", "--without-mingle",
             "--without-gossip"],
        )  # fmt: skip
        beat = self.start(
            "celery-beat",
            [executable("celery"), "-A", "exam_platform", "beat", "-l", "info",
             "-s", str(self.work_dir / "celerybeat-schedule")],
        )  # fmt: skip
        deadline = time.monotonic() + 90
        while "ready." not in worker.log_path.read_text(errors="replace"):
            if not worker.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the Celery worker did not start:\n{worker.log_tail()}")
            time.sleep(0.3)
        return worker, beat

    def services_stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.services.clear()

    def close(self, *, drop: bool = True) -> None:
        self.services_stop()
        if self.redis is not None:
            self.redis.stop()
            self.redis = None
        if drop and self.database_created:
            try:
                database_drop(self.admin_url, self.database)
            except Exception as exc:
                say(f"could not drop {self.database}: {exc}")


def process_rss_mib(pid: int) -> float:
    try:
        return psutil.Process(pid).memory_info().rss / 2**20
    except psutil.NoSuchProcess:
        return 0.0
