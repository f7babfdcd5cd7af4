"""Building protocol messages the way the exam page does (docs/protocol.md)."""

import hashlib
import json
from datetime import UTC, datetime

from channels.testing import WebsocketCommunicator

# A browser's headers: the socket's origin check allows this host.
ORIGIN = [(b"origin", b"http://localhost"), (b"host", b"localhost")]


async def exam_socket_connect(token: str) -> WebsocketCommunicator:
    """An accepted `/ws/exam/` socket on the real ASGI application, signed in with `token`."""
    from exam_platform.asgi import application

    communicator = WebsocketCommunicator(application, f"/ws/exam/?token={token}", headers=ORIGIN)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


def checksum(answers: dict) -> str:
    canonical = json.dumps(answers, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def sync_message(*, examinee, test_code: str, changes: dict[str, tuple[str, int]], seq: int = 1, **extra) -> dict:
    """An `answer.sync` message for `changes` {question_id: (value, version)} with a correct checksum."""
    now = datetime.now(UTC).isoformat()
    answers = {q: {"value": value, "version": version, "updated": now} for q, (value, version) in changes.items()}
    message = {
        "type": "answer.sync",
        "seq": seq,
        "examId": examinee.plan_id,
        "testCode": test_code,
        "userId": examinee.examinee_id,
        "timestamp": now,
        "answers": answers,
        "metadata": {
            "device": {"type": "PC", "browser": "Chromium", "os": "Linux"},
            "behavior": {"focusTime": 12, "editCount": 2, "keystrokes": 9, "navigation": []},
        },
        "status": "IN_PROGRESS",
        "checksum": checksum(answers),
    }
    message.update(extra)
    return message


def stored_answer_state(redis_conn) -> dict:
    """Every answer key and stream entry in Redis (channel-layer keys are not answer state)."""
    state = {key.decode(): redis_conn.type(key).decode() for key in redis_conn.keys("exam:*")}
    for stream in redis_conn.keys("stream:*"):
        length = redis_conn.xlen(stream)
        if length:
            state[stream.decode()] = length
    return state
