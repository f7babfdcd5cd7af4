"""The examinee's pages as Django renders them: sign-in, the exam page, languages and the page's words."""

import json
import re

import pytest
from django.utils import translation

from answers.views import EXAM_STRINGS, LOGIN_STRINGS
from plans.services.access import examinee_access_codes_issue, examinee_token_issue

pytestmark = pytest.mark.django_db


def _json_script(html: str, element_id: str) -> dict:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, f"no {element_id} script tag"
    return json.loads(match.group(1))


@pytest.fixture
def signed_in_client(client, examinee):
    """A browser signed in as the fixture examinee (the cookie POST /api/v1/examinee/login leaves)."""
    examinee_access_codes_issue(examinee_ids=[examinee.pk])
    examinee.refresh_from_db()
    client.cookies["examinee_token"] = examinee_token_issue(examinee=examinee)
    return client


def test_sign_in_page_is_korean_by_default(client):
    """GET / renders the sign-in form in Korean with its words and the API addresses for the script."""
    # given / when
    response = client.get("/")
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="ko">' in html
    assert "<h1>시험 로그인</h1>" in html
    assert '<label for="examinee-id">수험번호</label>' in html
    assert _json_script(html, "login-config") == {"loginUrl": "/api/v1/examinee/login", "examUrl": "/exam/"}
    assert (
        _json_script(html, "page-strings")["network_error"]
        == "서버에 연결할 수 없습니다. 네트워크를 확인하고 다시 시도하세요."
    )
    assert response.headers["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"


def test_language_switch_turns_the_sign_in_page_english(client):
    """The language switch (set_language) makes the next page English, words for the script included."""
    # given
    client.get("/")
    # when
    switched = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    response = client.get("/")
    # then
    html = response.content.decode()
    assert (switched.status_code, switched.headers["Location"]) == (302, "/")
    assert '<html lang="en">' in html
    assert "<h1>Sign in to your exam</h1>" in html
    assert _json_script(html, "page-strings")["network_error"] == (
        "The server cannot be reached. Check the network and try again."
    )


def test_exam_page_without_sign_in_goes_to_the_sign_in_page(client):
    """GET /exam/ without the sign-in cookie sends the browser to the sign-in page."""
    # when
    response = client.get("/exam/")
    # then
    assert (response.status_code, response.headers["Location"]) == (302, "/")


def test_exam_page_with_an_ended_token_says_so(client, examinee):
    """A cookie whose token no longer verifies goes to the sign-in page, which says the sign-in ended."""
    # given
    client.cookies["examinee_token"] = "not-a-token"
    # when
    response = client.get("/exam/")
    page = client.get(response.headers["Location"])
    # then
    assert (response.status_code, response.headers["Location"]) == (302, "/?expired=1")
    assert "로그인이 만료되었습니다." in page.content.decode()


def test_exam_page_hands_the_script_its_configuration(signed_in_client, examinee):
    """The exam page carries the examinee's identity and the protocol's addresses, and loads exam.js."""
    # when
    response = signed_in_client.get("/exam/")
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert _json_script(html, "exam-config") == {
        "planId": examinee.plan_id,
        "examineeId": examinee.examinee_id,
        "wsPath": "/ws/exam/",
        "syncUrl": "/api/v1/answers/sync",
        "recoverUrl": "/api/v1/answers/recover",
        "loginUrl": "/",
    }
    assert _json_script(html, "page-strings")["state_committed"] == "영구 저장됨"
    assert '<script type="module" src="/static/exam/js/exam.js"></script>' in html
    assert f"{examinee.examinee_name} ({examinee.examinee_id})" in html


def test_exam_page_refuses_post(signed_in_client):
    """The pages are read-only: POST gets 405 and changes nothing."""
    # when
    response = signed_in_client.post("/exam/")
    # then
    assert response.status_code == 405


@pytest.mark.parametrize("key", sorted(set(EXAM_STRINGS) | set(LOGIN_STRINGS)))
def test_every_page_string_has_korean_and_english(key):
    """Each word the script shows exists in English and in Korean (Korean is the default language)."""
    # given
    text = (EXAM_STRINGS | LOGIN_STRINGS)[key]
    # when
    with translation.override("ko"):
        korean = str(text)
    with translation.override("en"):
        english = str(text)
    # then
    assert re.search("[A-Za-z]", english)
    if key == "error_with_code":
        assert korean == "{message} ({code})"
    else:
        assert korean != english
        assert re.search("[가-힣]", korean)
        assert sorted(re.findall(r"\{\w+\}", korean)) == sorted(re.findall(r"\{\w+\}", english))
