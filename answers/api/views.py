"""Examinee HTTP API: sign-in and the HTTP fallback of the answer protocol (docs/protocol.md)."""

import json

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from exam_platform.batching import loop_batch
from exam_platform.db import DatabaseBatch
from monitoring.messages import CodedError, Msg
from plans.models import Examinee
from plans.services.access import SignIn, examinee_token_issue, examinees_authenticate

from ..services.protocol import answer_sync_validate, message_parse
from ..services.recovery import answer_recover
from ..services.session import examinee_sitting_context_get
from ..services.sync import answer_sync_apply
from .authentication import ExamineeTokenAuthentication, examinee_cookie_set, examinee_required


class ExamineeLoginInput(serializers.Serializer):
    # Field names are the protocol's (camelCase), see docs/protocol.md.
    planId = serializers.CharField(max_length=50)
    examineeId = serializers.CharField(max_length=50)
    accessCode = serializers.CharField(max_length=64)


def _login_input(request: HttpRequest) -> dict[str, str]:
    """The sign-in's validated fields, or CodedError (malformed body, missing or overlong field)."""
    try:
        data = json.loads(request.body or b"null")
    except RequestDataTooBig:
        raise CodedError(Msg.VALIDATION_TOO_LARGE) from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError both are
        raise CodedError(Msg.VALIDATION_MALFORMED, detail=str(exc)[:200]) from None
    serializer = ExamineeLoginInput(data=data)
    if not serializer.is_valid():
        raise CodedError(Msg.VALIDATION_SCHEMA, detail="; ".join(sorted(serializer.errors)))
    return serializer.validated_data


# The most sign-ins checked in one query, and the most such queries on the database threads at once.
SIGN_IN_BATCH_MAX_SIZE = 100
SIGN_IN_BATCHES_RUNNING = 2


def _sign_ins_check(sign_ins: list[SignIn]) -> list[Examinee | CodedError]:
    return examinees_authenticate(sign_ins=sign_ins)


def sign_in_batch() -> DatabaseBatch[SignIn, Examinee]:
    """The sign-ins of the running event loop, checked together (exam_platform.db.DatabaseBatch)."""
    return loop_batch(
        "sign-in",
        lambda: DatabaseBatch(run=_sign_ins_check, running=SIGN_IN_BATCHES_RUNNING, max_size=SIGN_IN_BATCH_MAX_SIZE),
    )


@csrf_exempt  # nothing to forge: it reads no cookie (DRF exempted its APIView the same way)
@never_cache
@require_POST
async def examinee_login_api(request: HttpRequest) -> JsonResponse:
    """POST {"planId", "examineeId", "accessCode"} -> {"token", "examineeId", "examineeName", "planId",
    "groupId"}, and the token as the examinee cookie (answers.api.authentication).

    An async view, because every examinee of an exam signs in within the same minute: the
    sign-ins of the same moment in the process are checked with one query on one of its database
    threads (exam_platform.db), instead of each taking a thread of its own and a turn at the
    connection pool, and it writes nothing (no session row).
    """
    try:
        data = _login_input(request)
        examinee = await sign_in_batch().call(SignIn(data["planId"], data["examineeId"], data["accessCode"]))
    except CodedError as error:
        return JsonResponse(error.as_reply(), status=error.message.http_status)
    token = examinee_token_issue(examinee=examinee)
    response = JsonResponse(
        {
            "token": token,
            "examineeId": examinee.examinee_id,
            "examineeName": examinee.examinee_name,
            "planId": examinee.plan_id,
            "groupId": examinee.group_id,
        }
    )
    examinee_cookie_set(response, token)
    return response


class ExamineeApi(APIView):
    authentication_classes = [ExamineeTokenAuthentication]
    permission_classes = [AllowAny]  # examinee_required() decides, with a coded error


class AnswerSyncApi(ExamineeApi):
    """POST the body of `answer.sync` -> the `answer.ack` reply (the WebSocket's HTTP fallback)."""

    def post(self, request: Request) -> Response:
        examinee = examinee_required(request)
        try:
            body = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise CodedError(Msg.VALIDATION_MALFORMED, detail="the body is not UTF-8") from None
        message = message_parse(body or None)
        if message.get("type") != "answer.sync":
            raise CodedError(Msg.VALIDATION_UNKNOWN_TYPE, detail="expected answer.sync")
        sync = answer_sync_validate(message)
        context = examinee_sitting_context_get(examinee_id=examinee.examinee_id)
        result = answer_sync_apply(context=context, message=sync, now=timezone.now())
        return Response(result.as_ack())


class AnswerRecoverApi(ExamineeApi):
    """GET -> the `recover.result` of the signed-in examinee's current sheet."""

    def get(self, request: Request) -> Response:
        examinee = examinee_required(request)
        context = examinee_sitting_context_get(examinee_id=examinee.examinee_id)
        return Response(answer_recover(context=context, now=timezone.now()))
