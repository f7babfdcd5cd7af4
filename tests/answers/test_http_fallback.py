"""The HTTP fallback of the answer protocol: sign-in, sync, recover, coded errors."""

import json

import pytest
from django.contrib.sessions.models import Session

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
    """A wrong access code gets 401 AUT-001 and no cookie."""
    examinee_access_codes_issue(examinee_ids=[examinee.pk])
    response = client.post(
        "/api/v1/examinee/login",
        {"planId": examinee.plan_id, "examineeId": examinee.pk, "accessCode": "WRONGCODE1"},
        content_type="application/json",
    )
    assert (response.status_code, response.json()["code"]) == (401, Msg.AUTH_INVALID_CREDENTIALS.code)
    assert "examinee_token" not in response.cookies


def test_sign_in_sets_the_token_cookie_and_writes_nothing(client, examinee, open_exam):
    """A sign-in answers the token, sets it as an HttpOnly, SameSite=Lax cookie, is never cached,
    and writes no row (no django_session: 10,000 sign-ins at an exam's start are reads only)."""
    # given
    (_examinee, code), = examinee_access_codes_issue(examinee_ids=[examinee.pk])  # fmt: skip
    sessions_before = Session.objects.count()
    # when
    response = client.post(
        "/api/v1/examinee/login",
        {"planId": examinee.plan_id, "examineeId": examinee.pk, "accessCode": code},
        content_type="application/json",
    )
    # then
    body = response.json()
    cookie = response.cookies["examinee_token"]
    assert response.status_code == 200
    assert (body["examineeId"], body["planId"], body["groupId"]) == (examinee.pk, examinee.plan_id, examinee.group_id)
    assert cookie.value == body["token"]
    assert (cookie["httponly"], cookie["samesite"], cookie["path"]) == (True, "Lax", "/")
    assert "no-store" in response.headers["Cache-Control"]
    assert Session.objects.count() == sessions_before


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{", Msg.VALIDATION_MALFORMED.code),
        (b"\xff\xfe", Msg.VALIDATION_MALFORMED.code),
        ("", Msg.VALIDATION_SCHEMA.code),
        ("[1, 2]", Msg.VALIDATION_SCHEMA.code),
        ('{"planId": "P", "examineeId": "E"}', Msg.VALIDATION_SCHEMA.code),
        ('{"planId": "P", "examineeId": "E", "accessCode": "' + "x" * 65 + '"}', Msg.VALIDATION_SCHEMA.code),
    ],
)
def test_bad_sign_in_bodies_are_refused_with_a_code(client, examinee, open_exam, body, code):
    """A sign-in body that is not JSON, not an object, misses a field or has an overlong one gets a coded 400."""
    response = client.post("/api/v1/examinee/login", body, content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (400, code)
    assert "examinee_token" not in response.cookies


def test_sign_in_is_post_only(client):
    """GET on the sign-in address is 405 with the allowed method named."""
    response = client.get("/api/v1/examinee/login")
    assert (response.status_code, response.headers["Allow"]) == (405, "POST")


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
    """Without a token or cookie the fallback refuses with AUT-002."""
    response = client.get("/api/v1/answers/recover")
    assert (response.status_code, response.json()["code"]) == (401, Msg.AUTH_TOKEN_INVALID.code)


def test_cookie_fallback_needs_the_csrf_token(redis_conn, examinee, open_exam, questions):
    """With the sign-in cookie only, a sync without X-CSRFToken is refused (AUT-003); with it, accepted."""
    from django.test import Client

    # given: the sign-in cookie and the exam page's CSRF cookie
    browser = Client(enforce_csrf_checks=True)
    (_examinee, code), = examinee_access_codes_issue(examinee_ids=[examinee.pk])  # fmt: skip
    browser.post("/api/v1/examinee/login", {"planId": examinee.plan_id, "examineeId": examinee.pk,
                                            "accessCode": code}, content_type="application/json")  # fmt: skip
    browser.get("/exam/")
    csrf = browser.cookies["csrftoken"].value
    body = json.dumps(sync_message(examinee=examinee, test_code=open_exam.test_code_id,
                                   changes={questions[0].pk: ("1", 1)}))  # fmt: skip
    # when
    forged = browser.post("/api/v1/answers/sync", body, content_type="application/json")
    stored_after_forged = stored_answer_state(redis_conn)
    genuine = browser.post("/api/v1/answers/sync", body, content_type="application/json", HTTP_X_CSRFTOKEN=csrf)
    # then
    assert (forged.status_code, forged.json()["code"]) == (403, Msg.AUTH_CSRF_FAILED.code)
    assert stored_after_forged == {}
    assert genuine.json()["accepted"] == {questions[0].pk: 1}


def test_a_waiting_examinee_begins_over_the_fallback(client, redis_conn, make_examinees, open_exam, questions):
    """An examinee whose network never allowed a socket begins the running exam on the first fallback call."""
    # given: an examinee added after the start, still WAITING
    (newcomer,) = make_examinees(1, prefix="LATE")
    (_examinee, code), = examinee_access_codes_issue(examinee_ids=[newcomer.pk])  # fmt: skip
    credentials = {"planId": newcomer.plan_id, "examineeId": newcomer.pk, "accessCode": code}
    token = client.post("/api/v1/examinee/login", credentials, content_type="application/json").json()["token"]
    body = json.dumps(sync_message(examinee=newcomer, test_code=open_exam.test_code_id,
                                   changes={questions[0].pk: ("2", 1)}))  # fmt: skip
    # when
    ack = client.post(
        "/api/v1/answers/sync", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    # then
    assert ack.status_code == 200, ack.json()
    assert ack.json()["accepted"] == {questions[0].pk: 1}
