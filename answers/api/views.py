"""Examinee HTTP API: sign-in and the HTTP fallback of the answer protocol (docs/protocol.md)."""

from django.utils import timezone
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring.messages import CodedError, Msg
from plans.services.access import examinee_authenticate, examinee_token_issue

from ..services.protocol import answer_sync_validate, message_parse
from ..services.recovery import answer_recover
from ..services.session import examinee_sitting_context_get
from ..services.sync import answer_sync_apply
from .authentication import ExamineeTokenAuthentication, examinee_required


class ExamineeLoginApi(APIView):
    """POST {"planId", "examineeId", "accessCode"} -> {"token", "examineeId", "planId", "examineeName"}."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer):
        # Field names are the protocol's (camelCase), see docs/protocol.md.
        planId = serializers.CharField(max_length=50)
        examineeId = serializers.CharField(max_length=50)
        accessCode = serializers.CharField(max_length=64)

    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        if not serializer.is_valid():
            raise CodedError(Msg.VALIDATION_SCHEMA, detail="; ".join(sorted(serializer.errors)))
        data = serializer.validated_data
        examinee = examinee_authenticate(
            plan_id=data["planId"], examinee_id=data["examineeId"], access_code=data["accessCode"]
        )
        token = examinee_token_issue(examinee=examinee)
        request.session["examinee_token"] = token
        return Response(
            {
                "token": token,
                "examineeId": examinee.examinee_id,
                "examineeName": examinee.examinee_name,
                "planId": examinee.plan_id,
                "groupId": examinee.group_id,
            }
        )


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
