"""DRF authentication of examinees: `Authorization: Bearer <token>` or the exam page's session."""

from dataclasses import dataclass

from django.middleware.csrf import CsrfViewMiddleware
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from monitoring.messages import CodedError, Msg
from plans.models import Examinee
from plans.services.access import examinee_token_examinee_get


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
    """A bearer token, or the session the sign-in set; a session-authenticated request must also pass
    Django's CSRF check (as DRF's SessionAuthentication does), so another site cannot write answers."""

    def authenticate(self, request: Request) -> tuple[ExamineeUser, str] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if token:
            return ExamineeUser(examinee=examinee_token_examinee_get(token=token)), token
        session = getattr(request._request, "session", None)
        token = session.get("examinee_token", "") if session is not None else ""
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
