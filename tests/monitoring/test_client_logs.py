"""The log queue: page events go to their own stream and reach the log storage as JSON lines."""

import json

import pytest
from channels.testing import WebsocketCommunicator
from django.core.files.storage import default_storage

from exam_platform.asgi import application
from monitoring.messages import Msg
from monitoring.services.client_logs import LOG_STREAM, client_logs_flush
from plans.services.access import examinee_access_codes_issue, examinee_token_issue
from tests.answers.helpers import ORIGIN

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
def log_storage(settings, tmp_path):
    """The default storage in a temporary directory (Django resets it when MEDIA_ROOT changes)."""
    settings.MEDIA_ROOT = str(tmp_path)
    assert default_storage.location == str(tmp_path)
    return tmp_path


async def test_page_logs_are_queued_then_stored(redis_conn, log_storage, examinee, open_exam):
    """A `log` message is acknowledged, kept apart from answers, and written as JSON lines by the flush."""
    # given
    from channels.db import database_sync_to_async

    await database_sync_to_async(examinee_access_codes_issue)(examinee_ids=[examinee.pk])
    await database_sync_to_async(examinee.refresh_from_db)()
    communicator = WebsocketCommunicator(
        application, f"/ws/exam/?token={examinee_token_issue(examinee=examinee)}", headers=ORIGIN
    )
    assert (await communicator.connect())[0]
    events = [{"at": "2026-11-24T09:00:00+09:00", "level": "warn", "event": "focus_lost", "detail": "창 전환"}]
    # when
    await communicator.send_json_to({"type": "log", "seq": 3, "events": events})
    ack = await communicator.receive_json_from(timeout=5)
    await communicator.send_json_to({"type": "log", "seq": 4, "events": [{"level": "loud", "event": "x"}]})
    refused = await communicator.receive_json_from(timeout=5)
    await communicator.disconnect()
    queued = redis_conn.xlen(LOG_STREAM)
    stored = await database_sync_to_async(client_logs_flush)()
    # then
    assert ack == {"type": "log.ack", "seq": 3, "count": 1}
    assert refused["code"] == Msg.VALIDATION_SCHEMA.code
    assert (queued, stored, redis_conn.xlen(LOG_STREAM)) == (1, 1, 0)
    files = list(log_storage.glob(f"logs/{examinee.plan_id}/*/*.jsonl"))
    assert len(files) == 1
    line = json.loads(files[0].read_text(encoding="utf-8"))
    assert (line["examinee"], line["event"], line["detail"], line["level"]) == (
        examinee.pk,
        "focus_lost",
        "창 전환",
        "warn",
    )
    assert redis_conn.keys("exam:*") == []
