"""Django's middleware run inline on the event loop (exam_platform.middleware) and its system check.

The async tests go through Django's AsyncClient, which serves the request the way the ASGI handler
does: the middleware chain in async mode, the view on the event loop or in a thread.
"""

import re
import threading

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.http import HttpResponse
from django.middleware import locale
from django.test import AsyncClient, RequestFactory, override_settings

from exam_platform import middleware
from exam_platform.checks import required_middleware_check
from plans.services.access import examinee_access_codes_issue

PASSWORD = "Pw-for-middleware-1"
DJANGO_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


def hook_threads(base: type) -> tuple[type, list[int]]:
    """A subclass of the middleware `base` that records the thread each of its hooks runs in."""
    threads: list[int] = []

    class Probe(base):
        def process_request(self, request):
            threads.append(threading.get_ident())
            return super().process_request(request)

        def process_response(self, request, response):
            threads.append(threading.get_ident())
            return super().process_response(request, response)

    return Probe, threads


@pytest.mark.parametrize(
    ("base", "on_the_loop"), [(middleware.LocaleMiddleware, True), (locale.LocaleMiddleware, False)]
)
@pytest.mark.asyncio
async def test_the_hooks_run_on_the_event_loop_where_django_sends_them_to_a_thread(base, on_the_loop):
    """Ours calls both hooks in the event loop's thread; Django's own sends each to another thread."""

    # given
    async def view(request):
        return HttpResponse("ok")

    probe, threads = hook_threads(base)
    chain = probe(view)
    # when
    response = await chain(RequestFactory().get("/"))
    # then
    assert response.status_code == 200
    loop_thread = threading.get_ident()
    assert len(threads) == 2
    assert all((thread == loop_thread) is on_the_loop for thread in threads), (threads, loop_thread)


@pytest.fixture
def access_code(examinee, open_exam):
    (_examinee, code), = examinee_access_codes_issue(examinee_ids=[examinee.pk])  # fmt: skip
    return code


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_sign_in_keeps_every_protective_header_through_the_async_chain(examinee, access_code):
    """The examinee sign-in served asynchronously still gets the security, framing, language and cache headers."""
    # given
    client = AsyncClient()
    body = {"planId": examinee.plan_id, "examineeId": examinee.pk, "accessCode": access_code}
    # when
    response = await client.post("/api/v1/examinee/login", body, content_type="application/json")
    # then
    assert response.status_code == 200, response.content
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["Content-Language"] == "ko"
    assert "no-store" in response["Cache-Control"]
    assert response.cookies["examinee_token"]["httponly"]


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_superuser(username="mw-admin", password=PASSWORD, email="")


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("csrf_in_session", [False, True])
async def test_an_admin_sign_in_is_csrf_checked_and_its_session_saved(staff_user, settings, csrf_in_session):
    """A form POST without the CSRF token is refused; with it, the new session is saved (in a thread: on the
    event loop the save would raise SynchronousOnlyOperation). With CSRF_USE_SESSIONS the token's secret is
    read from the session, in a thread too."""
    # given
    settings.CSRF_USE_SESSIONS = csrf_in_session
    client = AsyncClient(enforce_csrf_checks=True)
    form = {"username": staff_user.username, "password": PASSWORD, "next": "/admin/"}
    # when
    forged = await client.post("/admin/login/", form)
    page = await client.get("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    signed_in = await client.post("/admin/login/", {**form, "csrfmiddlewaretoken": token})
    # then
    assert forged.status_code == 403
    assert page.status_code == 200
    assert ("csrftoken" in client.cookies) is not csrf_in_session
    assert (signed_in.status_code, signed_in["Location"]) == (302, "/admin/")
    assert await sync_to_async(Session.objects.count)() == 1
    assert "Cookie" in signed_in["Vary"]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_admin_message_survives_the_redirect(staff_user):
    """The message an admin page adds is stored on its response and shown on the next page."""
    # given
    client = AsyncClient()
    await client.aforce_login(staff_user)
    # when
    added = await client.post("/admin/auth/group/add/", {"name": "proctors"})
    listing = await client.get(added["Location"])
    # then
    assert added.status_code == 302
    assert await sync_to_async(Group.objects.filter(name="proctors").exists)()
    assert 'class="messagelist"' in listing.content.decode()
    assert "proctors" in listing.content.decode()
    assert 'class="messagelist"' not in (await client.get(added["Location"])).content.decode()


@pytest.mark.parametrize(
    ("removed", "expected"),
    [
        (None, []),
        ("exam_platform.middleware.SecurityMiddleware", ["exam_platform.W001"]),
        ("exam_platform.middleware.XFrameOptionsMiddleware", ["exam_platform.W002"]),
        ("exam_platform.middleware.CsrfViewMiddleware", ["exam_platform.W003"]),
    ],
)
def test_the_middleware_check_warns_when_a_protection_is_missing(settings, removed, expected):
    """Each of Django's protective middleware must be in MIDDLEWARE, as itself or a subclass."""
    # given
    settings.MIDDLEWARE = [path for path in settings.MIDDLEWARE if path != removed]
    # when
    ids = [message.id for message in required_middleware_check()]
    # then
    assert ids == expected


def test_the_middleware_check_accepts_djangos_own_classes():
    """Django's own dotted paths satisfy the check as well as the platform's subclasses."""
    with override_settings(MIDDLEWARE=DJANGO_MIDDLEWARE):
        assert required_middleware_check() == []


def test_every_configured_middleware_is_the_inline_kind(settings):
    """No entry of MIDDLEWARE still costs two thread trips per request under ASGI."""
    from django.utils.module_loading import import_string

    classes = [import_string(path) for path in settings.MIDDLEWARE]
    assert all(issubclass(cls, middleware.InlineAsyncMixin) for cls in classes), classes
