"""The examinee socket on the real ASGI router: one reply per message, coded errors, acks and recovery."""

import asyncio
import json

import pytest
from channels.testing import WebsocketCommunicator

from answers.services.flush import answer_queue_ensure, answer_queue_flush
from exam_platform.asgi import application
from monitoring.messages import Msg
from tests.answers.helpers import ORIGIN, exam_socket_connect, stored_answer_state, sync_message

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def test_sync_is_acknowledged_then_committed(redis_conn, examinee, open_exam, questions, token):
    """answer.sync gets answer.ack once in Redis, then answer.committed after the flush."""
    # given
    answer_queue_ensure(redis_conn)
    communicator = await exam_socket_connect(token)
    q1 = questions[0].pk
    # when
    await communicator.send_json_to(sync_message(examinee=examinee, test_code=open_exam.test_code_id,
                                                 changes={q1: ("3", 1)}, seq=7))  # fmt: skip
    ack = await communicator.receive_json_from(timeout=5)
    from channels.db import database_sync_to_async

    await database_sync_to_async(answer_queue_flush)(consumer="test")
    committed = await communicator.receive_json_from(timeout=5)
    # then
    assert ack == {"type": "answer.ack", "seq": 7, "accepted": {q1: 1}, "stale": {}, "rejected": {}}
    assert committed == {"type": "answer.committed", "versions": {q1: 1}}
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("", Msg.VALIDATION_EMPTY_FRAME.code),
        ('{"type":', Msg.VALIDATION_MALFORMED.code),
        ("[" * 5000 + "]" * 5000, Msg.VALIDATION_TOO_DEEP.code),
        ('{"type": "answer.sync", "seq": NaN}', Msg.VALIDATION_MALFORMED.code),
        ('{"type": "dance"}', Msg.VALIDATION_UNKNOWN_TYPE.code),
        ('{"type": "answer.sync", "type": "recover"}', Msg.VALIDATION_DUPLICATE_KEY.code),
        ("x" * 300_000, Msg.VALIDATION_TOO_LARGE.code),
        (
            '{"type": "answer.sync", "seq": 1, "answers": {"Q": {"value": "a", "version": 1}}, "checksum": "00"}',
            Msg.VALIDATION_SCHEMA.code,
        ),
    ],
)
async def test_bad_frames_get_a_coded_error_and_the_socket_stays(redis_conn, examinee, open_exam, token, frame, code):
    """Every bad frame is answered with its code; the next heartbeat is still answered; nothing is stored."""
    # given
    communicator = await exam_socket_connect(token)
    # when
    await communicator.send_input({"type": "websocket.receive", "text": frame})
    reply = await communicator.receive_json_from(timeout=5)
    await communicator.send_json_to({"type": "heartbeat"})
    heartbeat = await communicator.receive_json_from(timeout=5)
    # then
    assert (reply["type"], reply["code"]) == ("error", code)
    assert heartbeat["type"] == "heartbeat.ack"
    assert stored_answer_state(redis_conn) == {}
    await communicator.disconnect()


async def test_binary_frame_gets_a_coded_error(redis_conn, examinee, open_exam, token):
    """A binary frame is refused with VAL-012, not a silent close."""
    communicator = await exam_socket_connect(token)
    await communicator.send_to(bytes_data=b"\x00\x01")
    reply = await communicator.receive_json_from(timeout=5)
    assert reply["code"] == Msg.VALIDATION_BINARY_FRAME.code
    await communicator.disconnect()


async def test_bad_checksum_stores_nothing(redis_conn, examinee, open_exam, questions, token):
    """A checksum mismatch rejects the whole message with VAL-003 and leaves Redis empty."""
    # given
    communicator = await exam_socket_connect(token)
    message = sync_message(examinee=examinee, test_code=open_exam.test_code_id, changes={questions[0].pk: ("1", 1)})
    message["checksum"] = "0" * 64
    # when
    await communicator.send_to(text_data=json.dumps(message))
    reply = await communicator.receive_json_from(timeout=5)
    # then
    assert reply["code"] == Msg.VALIDATION_CHECKSUM.code
    assert stored_answer_state(redis_conn) == {}
    await communicator.disconnect()


async def test_nul_and_lone_surrogate_are_refused_before_the_ack(redis_conn, examinee, open_exam, questions, token):
    """Text PostgreSQL cannot store is refused with VAL-010, so it is never acknowledged."""
    communicator = await exam_socket_connect(token)
    for bad in ("a\u0000b", "\ud800"):
        message = sync_message(examinee=examinee, test_code=open_exam.test_code_id, changes={"SA1": ("ok", 1)})
        message["answers"]["SA1"]["value"] = bad
        await communicator.send_to(text_data=json.dumps(message))
        reply = await communicator.receive_json_from(timeout=5)
        assert reply["code"] == Msg.VALIDATION_BAD_CHARACTER.code
    assert stored_answer_state(redis_conn) == {}
    await communicator.disconnect()


async def test_invalid_token_gets_a_reason_before_the_close(redis_conn, examinee, open_exam):
    """A bad token is answered with AUT-002 and close code 4401."""
    communicator = WebsocketCommunicator(application, "/ws/exam/?token=forged", headers=ORIGIN)
    connected, _ = await communicator.connect()
    assert connected
    reply = await communicator.receive_json_from(timeout=5)
    closed = await communicator.receive_output(timeout=5)
    assert reply["code"] == Msg.AUTH_TOKEN_INVALID.code
    assert closed == {"type": "websocket.close", "code": 4401, "reason": Msg.AUTH_TOKEN_INVALID.code}
    await communicator.disconnect()  # let the consumer end before the test's loop closes


async def test_the_sign_in_cookie_opens_the_socket_without_a_token_in_the_url(redis_conn, examinee, open_exam, token):
    """The exam page's socket carries no token in its URL: the cookie the sign-in set names the examinee."""
    # given
    cookie = [(b"cookie", f"examinee_token={token}".encode())]
    communicator = WebsocketCommunicator(application, "/ws/exam/", headers=[*ORIGIN, *cookie])
    assert (await communicator.connect())[0]
    # when
    await communicator.send_json_to({"type": "recover"})
    reply = await communicator.receive_json_from(timeout=5)
    # then
    assert (reply["type"], reply["userId"]) == ("recover.result", examinee.pk)
    await communicator.disconnect()


async def test_without_token_or_cookie_the_socket_is_refused(redis_conn, examinee, open_exam):
    """No token in the URL and no cookie: AUT-002, close 4401."""
    communicator = WebsocketCommunicator(application, "/ws/exam/", headers=[*ORIGIN, (b"cookie", b"sessionid=x")])
    assert (await communicator.connect())[0]
    reply = await communicator.receive_json_from(timeout=5)
    closed = await communicator.receive_output(timeout=5)
    assert (reply["code"], closed["code"]) == (Msg.AUTH_TOKEN_INVALID.code, 4401)
    await communicator.disconnect()


async def test_a_socket_over_its_message_budget_is_answered_sys003_and_then_served_again(
    redis_conn, examinee, open_exam, token, settings
):
    """Over the burst, a message is refused with SYS-003 (one reply each, nothing done); once the bucket
    refills, the socket is served again."""
    # given: a budget of 3 at once, 1 a second
    settings.EXAM_SOCKET_MESSAGES_BURST = 3
    settings.EXAM_SOCKET_MESSAGES_PER_SECOND = 1
    communicator = await exam_socket_connect(token)
    # when: five heartbeats at once, then one after the refill
    for _ in range(5):
        await communicator.send_json_to({"type": "heartbeat"})
    replies = [(await communicator.receive_json_from(timeout=5)).get("code", "ack") for _ in range(5)]
    await asyncio.sleep(1.1)
    await communicator.send_json_to({"type": "heartbeat"})
    later = await communicator.receive_json_from(timeout=5)
    # then
    assert replies == ["ack", "ack", "ack", Msg.SYSTEM_RATE_LIMITED.code, Msg.SYSTEM_RATE_LIMITED.code]
    assert later["type"] == "heartbeat.ack"
    await communicator.disconnect()


async def test_errors_come_in_the_pages_language(redis_conn, examinee, open_exam, token):
    """A page asking for English gets English error messages; Korean is the default."""
    english = WebsocketCommunicator(
        application, f"/ws/exam/?token={token}", headers=[*ORIGIN, (b"accept-language", b"en-US,en;q=0.9")]
    )
    assert (await english.connect())[0]
    await english.send_to(text_data="{")
    english_reply = await english.receive_json_from(timeout=5)
    await english.disconnect()
    korean = await exam_socket_connect(token)
    await korean.send_to(text_data="{")
    korean_reply = await korean.receive_json_from(timeout=5)
    await korean.disconnect()
    assert english_reply["message"] == Msg.VALIDATION_MALFORMED.en
    assert korean_reply["message"] == Msg.VALIDATION_MALFORMED.ko


async def test_an_idle_socket_outlives_the_channel_layers_blocking_read(redis_conn, examinee, open_exam, token):
    """Quiet for longer than channels_redis's 5 s BZPOPMIN, the socket still answers (a read timeout
    at or below it used to kill the consumer and close the page's socket with 1011)."""
    # given
    import asyncio

    communicator = await exam_socket_connect(token)
    # when
    await asyncio.sleep(7)
    await communicator.send_json_to({"type": "heartbeat", "seq": 1})
    reply = await communicator.receive_json_from(timeout=5)
    # then
    assert reply["type"] == "heartbeat.ack"
    await communicator.disconnect()


def _flush_rings_queued(redis_conn) -> int:
    """The answer flush tasks waiting in the Celery broker (the same Redis in tests), over its priority lists."""
    rings = 0
    for key in redis_conn.keys("celery*"):
        if redis_conn.type(key) != b"list":
            continue
        for body in redis_conn.lrange(key, 0, -1):
            rings += json.loads(body)["headers"]["task"] == "answers.tasks.answer_queue_flush_task"
    return rings


async def test_a_long_queue_rings_the_early_flush_once_a_second_not_on_every_save(
    redis_conn, examinee, open_exam, questions, token
):
    """Over EARLY_FLUSH_BACKLOG each save sees the long queue; one flush task is queued for a burst of
    saves, and another only once a second has passed (before, every save queued its own)."""
    # given: the answer stream already holds the backlog, and this process has not rung lately
    from answers.keys import answer_stream_for
    from answers.services.sync import EARLY_FLUSH_BACKLOG, early_flush_bell

    answer_queue_ensure(redis_conn)
    pipe = redis_conn.pipeline(transaction=False)
    for number in range(EARLY_FLUSH_BACKLOG):
        pipe.xadd(answer_stream_for("normal"), {"m": "{}", "n": str(number)})
    pipe.execute()
    early_flush_bell.rung_at = float("-inf")
    communicator = await exam_socket_connect(token)
    q1 = questions[0].pk
    # when: three saves in a burst, then one more after a second
    for version in (1, 2, 3):
        await communicator.send_json_to(sync_message(examinee=examinee, test_code=open_exam.test_code_id,
                                                     changes={q1: (str(version), version)}, seq=version))  # fmt: skip
        assert (await communicator.receive_json_from(timeout=5))["accepted"] == {q1: version}
    after_burst = _flush_rings_queued(redis_conn)
    early_flush_bell.rung_at -= early_flush_bell.every
    await communicator.send_json_to(sync_message(examinee=examinee, test_code=open_exam.test_code_id,
                                                 changes={q1: ("4", 4)}, seq=4))  # fmt: skip
    await communicator.receive_json_from(timeout=5)
    # then
    assert (after_burst, _flush_rings_queued(redis_conn)) == (1, 2)
    await communicator.disconnect()
