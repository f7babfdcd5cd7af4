"""Shared fixtures: real PostgreSQL (pytest-django) and the real Redis of REDIS_URL, emptied per test."""

import pytest

pytest_plugins = ["tests.plans.fixtures", "tests.answers.fixtures"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, emptied once at the start of the session.

    With --reuse-db (pyproject's addopts) the database outlives the run, and a run killed in the middle
    of a transactional test leaves that test's rows behind: the next run then fails on "already
    exists". Every test already starts from empty tables (transactional tests flush after themselves),
    so emptying them first changes nothing else.
    """
    from django.core.management import call_command

    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)


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
