"""The HTTP fallback of the answer protocol: sign-in, sync, recover, coded errors."""

import json

import pytest

from answers.models import AnswerData, AnswerHistory
from answers.services.flush import answer_queue_ensure, answer_queue_flush
from monitoring.messages import Msg
from plans.services.access import examinee_access_codes_issue
from tests.answers.helpers import stored_answer_state, sync_message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def signed_in(client, examinee, open_exam):
    (_examinee, code), = examinee_access_codes_issue(examinee_ids=[examinee.pk])  # fmt: skip
    response = client.post(
        "/api/v1/examinee/login",
        {"planId": examinee.plan_id, "examineeId": examinee.pk, "accessCode": code.lower()},
        content_type="application/json",
    )
    assert response.status_code == 200
    return response.json()["token"]


def test_wrong_code_is_401_with_a_code(client, examinee, open_exam):
    """A wrong access code gets 401 AUT-001 and no session."""
    examinee_access_codes_issue(examinee_ids=[examinee.pk])
    response = client.post(
        "/api/v1/examinee/login",
        {"planId": examinee.plan_id, "examineeId": examinee.pk, "accessCode": "WRONGCODE1"},
        content_type="application/json",
    )
    assert (response.status_code, response.json()["code"]) == (401, Msg.AUTH_INVALID_CREDENTIALS.code)
    assert "examinee_token" not in client.session


def test_sync_then_recover_over_http_round_trip(client, redis_conn, examinee, open_exam, questions, signed_in):
    """POST sync answers answer.ack; after the flush the rows are stored; GET recover returns them."""
    # given
    answer_queue_ensure(redis_conn)
    q1 = questions[0].pk
    body = sync_message(examinee=examinee, test_code=open_exam.test_code_id, changes={q1: ("2", 1), "SA1": ("서울", 1)})
    headers = {"HTTP_AUTHORIZATION": f"Bearer {signed_in}"}
    # when
    ack = client.post("/api/v1/answers/sync", json.dumps(body, ensure_ascii=False), content_type="application/json",
                      **headers)  # fmt: skip
    answer_queue_flush(consumer="http")
    recovered = client.get("/api/v1/answers/recover", **headers)
    # then
    assert ack.status_code == 200
    assert ack.json() == {"type": "answer.ack", "seq": 1, "accepted": {q1: 1, "SA1": 1}, "stale": {}, "rejected": {}}
    assert dict(AnswerData.objects.values_list("question_id", "answer_value")) == {q1: "2", "SA1": "서울"}
    assert AnswerHistory.objects.count() == 2
    assert recovered.status_code == 200
    assert recovered.json()["committed"] == {q1: 1, "SA1": 1}
    assert recovered.json()["answers"]["SA1"]["value"] == "서울"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"\xff\xfe", 400, Msg.VALIDATION_MALFORMED.code),
        (b"", 400, Msg.VALIDATION_EMPTY_FRAME.code),
        (b'{"type": "recover"}', 400, Msg.VALIDATION_UNKNOWN_TYPE.code),
        (b"[" * 100 + b"]" * 100, 400, Msg.VALIDATION_TOO_DEEP.code),
    ],
)
def test_bad_http_bodies_are_refused_with_a_code(
    client, redis_conn, examinee, open_exam, signed_in, body, status, code
):
    """Every bad body gets its status and STD_MESSAGE code; nothing is stored."""
    response = client.post("/api/v1/answers/sync", body, content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {signed_in}")  # fmt: skip
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert stored_answer_state(redis_conn) == {}


def test_no_token_is_401(client, examinee, open_exam):
    """Without a token or session the fallback refuses with AUT-002."""
    response = client.get("/api/v1/answers/recover")
    assert (response.status_code, response.json()["code"]) == (401, Msg.AUTH_TOKEN_INVALID.code)
