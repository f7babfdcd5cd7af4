"""How an examinee's requests carry their token: `Authorization: Bearer <token>` (integrations, the
load generator) or the HttpOnly cookie the sign-in sets (the exam page, its socket and its HTTP
fallback).

The cookie holds the signed, expiring token itself (plans.services.access), not a session key: a
sign-in then writes nothing to the database (an exam-start herd of sign-ins used to insert a
django_session row each, docs/benchmarks.md), and the token stays revocable, because a newly
issued access code ends every earlier token.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from monitoring.messages import CodedError, Msg
from plans.models import Examinee
from plans.services.access import TOKEN_MAX_AGE_SECONDS, examinee_token_examinee_get

EXAMINEE_COOKIE = "examinee_token"


def examinee_cookie_set(response: HttpResponse, token: str) -> None:
    """Give the browser the examinee's token as an HttpOnly cookie for this site's pages and sockets."""
    response.set_cookie(
        EXAMINEE_COOKIE,
        token,
        max_age=TOKEN_MAX_AGE_SECONDS,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def examinee_cookie_token(cookies: Mapping[str, str]) -> str:
    """The token of the examinee cookie among `cookies` (a request's or a socket scope's), or ""."""
    return cookies.get(EXAMINEE_COOKIE, "")


@dataclass
class ExamineeUser:
    """The request.user of an examinee request: not a Django user, never staff."""

    examinee: Examinee
    is_authenticated: bool = True
    is_staff: bool = False
    is_superuser: bool = False

    @property
    def pk(self) -> str:
        return self.examinee.examinee_id


class ExamineeTokenAuthentication(BaseAuthentication):
    """A bearer token, or the cookie the sign-in set; a cookie-authenticated request must also pass
    Django's CSRF check (as DRF's SessionAuthentication does), so another site cannot write answers."""

    def authenticate(self, request: Request) -> tuple[ExamineeUser, str] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if token:
            return ExamineeUser(examinee=examinee_token_examinee_get(token=token)), token
        token = examinee_cookie_token(request._request.COOKIES)
        if not token:
            return None
        self._csrf_check(request)
        return ExamineeUser(examinee=examinee_token_examinee_get(token=token)), token

    def _csrf_check(self, request: Request) -> None:
        check = CsrfViewMiddleware(lambda _request: None)
        check.process_request(request._request)
        reason = check.process_view(request._request, None, (), {})
        if reason:
            raise CodedError(Msg.AUTH_CSRF_FAILED, detail="send the X-CSRFToken header")

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="exam"'


def examinee_required(request: Request) -> Examinee:
    """The signed-in examinee, or CodedError AUTH_TOKEN_INVALID."""
    user = getattr(request, "user", None)
    if not isinstance(user, ExamineeUser):
        raise CodedError(Msg.AUTH_TOKEN_INVALID)
    return user.examinee
