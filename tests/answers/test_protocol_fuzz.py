"""Fuzzing the protocol parser and validator: any frame is either a valid message or a coded refusal."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from answers.services.protocol import answer_sync_validate, answers_checksum, message_parse
from monitoring.messages import CodedError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(frame=st.text(max_size=400))
def test_any_text_frame_parses_or_is_refused_with_a_code(frame):
    """Arbitrary text never raises anything but CodedError."""
    try:
        message = message_parse(frame)
    except CodedError as error:
        assert error.code
    else:
        assert isinstance(message, dict)


@settings(max_examples=400, deadline=None)
@given(answers=st.dictionaries(st.text(max_size=60), json_values, max_size=5), seq=json_values, extra=json_values)
def test_any_sync_shape_validates_or_is_refused_with_a_code(answers, seq, extra):
    """Arbitrary answer.sync shapes (with a matching checksum) never raise anything but CodedError."""
    message = {"type": "answer.sync", "seq": seq, "answers": answers, "metadata": extra, "examId": "P",
               "testCode": "T", "userId": "U", "timestamp": "2026-11-24T09:00:00+09:00"}  # fmt: skip
    try:
        message["checksum"] = answers_checksum(answers)
    except (ValueError, UnicodeEncodeError):
        message["checksum"] = "0" * 64
    try:
        text = json.dumps(message, ensure_ascii=False, allow_nan=True)
        validated = answer_sync_validate(message_parse(text))
    except CodedError as error:
        assert error.code
    except UnicodeEncodeError:
        pass  # a lone surrogate cannot even be sent as a text frame
    else:
        assert all(type(change.version) is int and 1 <= change.version for change in validated.answers)
        assert all("\x00" not in change.value for change in validated.answers)
