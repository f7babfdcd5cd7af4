"""Shared fixtures: real PostgreSQL (pytest-django) and the real Redis of REDIS_URL, emptied per test."""

import pytest

pytest_plugins = ["tests.plans.fixtures", "tests.answers.fixtures"]


@pytest.fixture
def redis_conn():
    """The process-wide Redis client, on a database emptied before and after the test."""
    from exam_platform.redis import redis_client

    client = redis_client()
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture(autouse=True)
def _fresh_paper_cache():
    """Papers are cached in process memory for a minute; tests reuse paper codes, so start each one empty."""
    from answers import selectors

    selectors._papers.clear()
    selectors._plan_totals.clear()
    yield
