"""API wiring shared by every app: CodedError becomes the protocol's error body with its HTTP status."""

from typing import Any

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from monitoring.messages import CodedError, Msg

DRF_ERRORS = (
    (exceptions.ParseError, Msg.VALIDATION_MALFORMED),
    (exceptions.UnsupportedMediaType, Msg.VALIDATION_MALFORMED),
    (exceptions.ValidationError, Msg.VALIDATION_SCHEMA),
    (exceptions.NotAuthenticated, Msg.AUTH_TOKEN_INVALID),
    (exceptions.AuthenticationFailed, Msg.AUTH_TOKEN_INVALID),
    (exceptions.PermissionDenied, Msg.AUTH_FORBIDDEN),
    (exceptions.Throttled, Msg.SYSTEM_RATE_LIMITED),
)


def coded_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler: a CodedError answers {"type": "error", "code", "message", ...}."""
    if isinstance(exc, CodedError):
        return Response(exc.as_reply(), status=exc.message.http_status)
    response = exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.PermissionDenied) and "CSRF" in str(exc.detail):
        response.data = Msg.AUTH_CSRF_FAILED.as_reply(detail=response.data)
        return response
    for drf_class, message in DRF_ERRORS:
        if response is not None and isinstance(exc, drf_class):
            response.data = message.as_reply(detail=response.data)
            break
    return response
