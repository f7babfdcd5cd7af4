"""Fixtures of the fault tests: a private Redis with AOF per test, pointed at by this process's settings."""

import pytest

from exam_platform.embedded import redis_start


def _reset_clients():
    from answers.redis_scripts import script
    from exam_platform.redis import redis_client

    redis_client.cache_clear()
    script.cache_clear()


@pytest.fixture
def private_redis(tmp_path, settings):
    """A redis-server of our own (AOF everysec, noeviction); never the shared one (RELIABILITY.md finding 2)."""
    server = redis_start(tmp_path / "redis")
    settings.REDIS_URL = server.url
    _reset_clients()
    yield server
    server.stop()
    _reset_clients()
