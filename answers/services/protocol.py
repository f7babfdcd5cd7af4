"""The examinee answer protocol: parsing and validating client messages (docs/protocol.md).

Implements the web tier's checks of ../shared/seeds/000_5409611881cc1301.txt 3.1 ("데이터 검증")
for the transfer structure 4.1, and refuses everything PostgreSQL would refuse later
(../shared/RELIABILITY.md, "Bad-input classes"): an entry that was acknowledged but could never
be committed would break the promise. Pure functions, no I/O: every entry point (WebSocket
consumer, HTTP fallback) calls `message_parse` and `answer_sync_validate`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from monitoring.messages import CodedError, Msg

MAX_MESSAGE_BYTES = 256 * 1024
MAX_DEPTH = 16
MAX_ANSWERS_PER_MESSAGE = 200
MAX_NAVIGATION_ENTRIES = 50
MAX_ID_LENGTH = 50
MAX_INFO_LENGTH = 200
MAX_VERSION = 1_000_000_000
MAX_COUNTER = 2_000_000_000
MAX_INT_DIGITS = 12
MESSAGE_TYPES = frozenset({"answer.sync", "recover", "heartbeat", "submit", "log"})
CHECKSUM_RE = re.compile(r"^[0-9a-f]{64}$")
# NUL and lone surrogates parse as JSON but PostgreSQL text refuses them.
BAD_CHARACTERS_RE = re.compile("[\x00\ud800-\udfff]")


def _reject_constant(name: str) -> Any:
    raise CodedError(Msg.VALIDATION_MALFORMED, detail=f"{name} is not JSON")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise CodedError(Msg.VALIDATION_VERSION_RANGE, detail="integer too large")
    return int(text)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise CodedError(Msg.VALIDATION_DUPLICATE_KEY, detail=key[:MAX_ID_LENGTH])
        result[key] = value
    return result


def _depth_error() -> CodedError:
    return CodedError(Msg.VALIDATION_TOO_DEEP, detail=f"limit {MAX_DEPTH} levels")


def _too_deep(value: Any) -> bool:
    """Whether a parsed document nests its objects and arrays deeper than MAX_DEPTH, walked without
    recursion. It visits containers and their items only, so it costs microseconds where a scan of
    the text cost a loop step per character (30 µs for a 1.2 KB save, ten times that for 15 KB).
    A document nested too deep for the parser itself raises RecursionError there instead."""
    stack = [(value, 1)] if type(value) in (dict, list) else []
    while stack:
        container, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        for item in container.values() if type(container) is dict else container:
            if type(item) is dict or type(item) is list:
                stack.append((item, depth + 1))
    return False


def message_parse(text: str | None, binary: bytes | None = None) -> dict[str, Any]:
    """Parse one client frame into a message dict, or raise CodedError with the reason.

    Checks, in order: binary frame, empty frame, size, JSON syntax (no NaN or Infinity, no
    duplicate keys, no integer longer than 12 digits), nesting depth, an object with a known `type`.
    """
    if binary is not None and text is None:
        raise CodedError(Msg.VALIDATION_BINARY_FRAME)
    if not text:
        raise CodedError(Msg.VALIDATION_EMPTY_FRAME)
    if len(text) > MAX_MESSAGE_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES:
        raise CodedError(Msg.VALIDATION_TOO_LARGE, detail=f"limit {MAX_MESSAGE_BYTES} bytes")
    try:
        message = json.loads(
            text, parse_constant=_reject_constant, parse_int=_bounded_int, object_pairs_hook=_no_duplicate_keys
        )
    except RecursionError:
        raise _depth_error() from None
    except (json.JSONDecodeError, ValueError) as exc:
        raise CodedError(Msg.VALIDATION_MALFORMED, detail=str(exc)[:200]) from None
    if _too_deep(message):
        raise _depth_error()
    if not isinstance(message, dict):
        raise CodedError(Msg.VALIDATION_SCHEMA, detail="a message is a JSON object")
    message_type = message.get("type")
    if type(message_type) is not str or message_type not in MESSAGE_TYPES:
        raise CodedError(Msg.VALIDATION_UNKNOWN_TYPE, detail=str(message_type)[:50])
    return message


def answers_checksum(answers: dict[str, Any]) -> str:
    """Lowercase hex SHA-256 of `answers` as canonical JSON (sorted keys, no spaces, UTF-8 kept)."""
    canonical = json.dumps(answers, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AnswerChange:
    """One question's change in a sync message: the value at `version`, changed at `updated`."""

    question_id: str
    value: str
    version: int
    updated: str


@dataclass(frozen=True)
class Behavior:
    """The behaviour counters of 4.1 (cumulative per question on the client; the server keeps the max)."""

    focus_time: float = 0.0
    edit_count: int = 0
    keystrokes: int = 0
    clicks: int = 0
    scrolls: int = 0
    focus_lost: int = 0
    visits: int = 0
    navigation: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class SyncMessage:
    """A validated `answer.sync` message (transfer structure 4.1)."""

    seq: int
    exam_id: str
    test_code: str
    user_id: str
    timestamp: str
    answers: tuple[AnswerChange, ...]
    device: dict[str, str]
    behavior: Behavior
    status: str
    checksum: str
    priority: str = "normal"
    raw_answers: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _fail(detail: str) -> CodedError:
    return CodedError(Msg.VALIDATION_SCHEMA, detail=detail)


def _string(container: dict[str, Any], key: str, path: str, max_length: int, *, required: bool = True) -> str:
    value = container.get(key)
    if value is None and not required:
        return ""
    if type(value) is not str:
        raise _fail(f"{path}{key} must be a string")
    if len(value) > max_length:
        raise _fail(f"{path}{key} is longer than {max_length}")
    if BAD_CHARACTERS_RE.search(value):
        raise CodedError(Msg.VALIDATION_BAD_CHARACTER, detail=f"{path}{key}")
    return value


def _datetime_string(container: dict[str, Any], key: str, path: str, *, required: bool = True) -> str:
    value = _string(container, key, path, 40, required=required)
    if value and _parse_timestamp(value) is None:
        raise _fail(f"{path}{key} must be an ISO 8601 date-time")
    return value


def _parse_timestamp(value: str) -> datetime | None:
    try:
        return parse_datetime(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        return None


def _counter(container: dict[str, Any], key: str, path: str, *, number: bool = False) -> int | float:
    value = container.get(key, 0)
    allowed = (int, float) if number else (int,)
    if type(value) not in allowed or value < 0 or value > MAX_COUNTER:
        raise _fail(f"{path}{key} must be a {'number' if number else 'whole number'} from 0 to {MAX_COUNTER}")
    return value


def _object(container: dict[str, Any], key: str, path: str, *, required: bool = True) -> dict[str, Any]:
    value = container.get(key)
    if value is None and not required:
        return {}
    if type(value) is not dict:
        raise _fail(f"{path}{key} must be an object")
    return value


def _strings_clean(value: Any, path: str) -> None:
    """Refuse NUL and lone surrogates anywhere in a nested value before it is hashed or stored."""
    if type(value) is str:
        if BAD_CHARACTERS_RE.search(value):
            raise CodedError(Msg.VALIDATION_BAD_CHARACTER, detail=path)
    elif type(value) is dict:
        for key, item in value.items():
            _strings_clean(key, path)
            _strings_clean(item, f"{path}.{key}"[:100])
    elif type(value) is list:
        for item in value:
            _strings_clean(item, path)


def answer_sync_validate(message: dict[str, Any]) -> SyncMessage:
    """Validate an `answer.sync` message's shape, characters and checksum; raise CodedError otherwise.

    Per-question rules that need the paper (unknown question, choice, length) are checked by the
    sync service; this function needs no data.
    """
    seq = message.get("seq")
    if type(seq) is not int or seq < 0:
        raise _fail("seq must be a whole number >= 0")
    answers = message.get("answers")
    if type(answers) is not dict or not answers:
        raise _fail("answers must be a non-empty object")
    if len(answers) > MAX_ANSWERS_PER_MESSAGE:
        raise CodedError(Msg.VALIDATION_TOO_LARGE, detail=f"at most {MAX_ANSWERS_PER_MESSAGE} answers per message")
    _strings_clean(answers, "answers")
    checksum = message.get("checksum")
    if type(checksum) is not str or not CHECKSUM_RE.match(checksum):
        raise _fail("checksum must be 64 lowercase hex digits")
    if answers_checksum(answers) != checksum:
        raise CodedError(Msg.VALIDATION_CHECKSUM)
    changes = []
    for question_id, entry in answers.items():
        path = f"answers.{question_id[:MAX_ID_LENGTH]}."
        if len(question_id) > MAX_ID_LENGTH or not question_id:
            raise _fail("a question code is 1 to 50 characters")
        if type(entry) is not dict:
            raise _fail(f"{path[:-1]} must be an object")
        if type(entry.get("value")) is not str:
            raise _fail(f"{path}value must be a string")
        version = entry.get("version")
        if type(version) is not int:
            raise _fail(f"{path}version must be a whole number")
        if not 1 <= version <= MAX_VERSION:
            raise CodedError(Msg.VALIDATION_VERSION_RANGE, detail=f"{path}version must be 1 to {MAX_VERSION}")
        updated = _datetime_string(entry, "updated", path)
        changes.append(AnswerChange(question_id=question_id, value=entry["value"], version=version, updated=updated))
    metadata = _object(message, "metadata", "", required=False)
    device_raw = _object(metadata, "device", "metadata.", required=False)
    device = {
        key: _string(device_raw, key, "metadata.device.", MAX_INFO_LENGTH, required=False)
        for key in ("type", "browser", "os")
    }
    behavior_raw = _object(metadata, "behavior", "metadata.", required=False)
    navigation_raw = behavior_raw.get("navigation", [])
    if type(navigation_raw) is not list or len(navigation_raw) > MAX_NAVIGATION_ENTRIES:
        raise _fail(f"metadata.behavior.navigation must be a list of at most {MAX_NAVIGATION_ENTRIES} entries")
    navigation = []
    for entry in navigation_raw:
        if type(entry) is not dict:
            raise _fail("metadata.behavior.navigation entries must be objects")
        path = "metadata.behavior.navigation."
        navigation.append(
            {
                "from": _string(entry, "from", path, MAX_ID_LENGTH, required=False),
                "to": _string(entry, "to", path, MAX_ID_LENGTH),
                "timestamp": _datetime_string(entry, "timestamp", path),
            }
        )
    path = "metadata.behavior."
    behavior = Behavior(
        focus_time=float(_counter(behavior_raw, "focusTime", path, number=True)),
        edit_count=int(_counter(behavior_raw, "editCount", path)),
        keystrokes=int(_counter(behavior_raw, "keystrokes", path)),
        clicks=int(_counter(behavior_raw, "clicks", path)),
        scrolls=int(_counter(behavior_raw, "scrolls", path)),
        focus_lost=int(_counter(behavior_raw, "focusLost", path)),
        visits=int(_counter(behavior_raw, "visits", path)),
        navigation=tuple(navigation),
    )
    priority = message.get("priority", "normal")
    if priority not in ("normal", "high"):
        raise _fail("priority must be 'normal' or 'high'")
    return SyncMessage(
        seq=seq,
        exam_id=_string(message, "examId", "", MAX_ID_LENGTH),
        test_code=_string(message, "testCode", "", MAX_ID_LENGTH),
        user_id=_string(message, "userId", "", MAX_ID_LENGTH),
        timestamp=_datetime_string(message, "timestamp", ""),
        answers=tuple(changes),
        device=device,
        behavior=behavior,
        status=_string(message, "status", "", 20, required=False),
        checksum=checksum,
        priority=priority,
        raw_answers=answers,
    )
