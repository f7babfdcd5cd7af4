"""DRF authentication of examinees: `Authorization: Bearer <token>` or the exam page's session."""

from dataclasses import dataclass

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
    def authenticate(self, request: Request) -> tuple[ExamineeUser, str] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not token:
            token = request._request.session.get("examinee_token", "") if hasattr(request._request, "session") else ""
        if not token:
            return None
        return ExamineeUser(examinee=examinee_token_examinee_get(token=token)), token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="exam"'


def examinee_required(request: Request) -> Examinee:
    """The signed-in examinee, or CodedError AUTH_TOKEN_INVALID."""
    user = getattr(request, "user", None)
    if not isinstance(user, ExamineeUser):
        raise CodedError(Msg.AUTH_TOKEN_INVALID)
    return user.examinee
