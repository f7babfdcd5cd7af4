import pytest


@pytest.fixture(autouse=True)
def std_messages(db):
    """STD_MESSAGE as the migration fills it (transactional tests elsewhere empty every table)."""
    from monitoring.services import std_message_sync

    std_message_sync()
