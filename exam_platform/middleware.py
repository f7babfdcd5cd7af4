"""Django's own middleware, run on the event loop when a request is served asynchronously.

Under ASGI, Django runs each `MiddlewareMixin` hook through `sync_to_async(thread_sensitive=True)`:
two trips to a thread per middleware and per request, in a thread made for that request. Eight
middleware made sixteen trips for one examinee sign-in, most of its cost (py-spy, 2026-11-25:
about 66 sign-ins a second on one daphne). The hooks below do no I/O (headers, cookies, lazy
objects, URL resolving), so they run inline on the event loop; the one hook that can reach the
database, the session's save, still goes to a thread when there is something to save. Under WSGI
and the test client nothing changes: `__call__` is Django's.

A hook that did reach the database on the event loop would fail loudly (SynchronousOnlyOperation),
not silently.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest, HttpResponseBase
from django.middleware import clickjacking, common, csrf, locale, security


class InlineAsyncMixin:
    """`MiddlewareMixin.__acall__` with the hooks called directly instead of in a thread.

    `request_needs_thread` and `response_needs_thread` name the cases where a hook may do I/O."""

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = None
        if hasattr(self, "process_request"):
            if self.request_needs_thread(request):
                response = await sync_to_async(self.process_request, thread_sensitive=True)(request)
            else:
                response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            if self.response_needs_thread(request, response):
                response = await sync_to_async(self.process_response, thread_sensitive=True)(request, response)
            else:
                response = self.process_response(request, response)
        return response

    def request_needs_thread(self, request: HttpRequest) -> bool:
        return False

    def response_needs_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        return False


class SecurityMiddleware(InlineAsyncMixin, security.SecurityMiddleware):
    pass


class SessionMiddleware(InlineAsyncMixin, sessions.SessionMiddleware):
    """The session is loaded lazily (in the view's thread, where it is read) and saved in a thread."""

    def response_needs_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        session = getattr(request, "session", None)
        return session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


class LocaleMiddleware(InlineAsyncMixin, locale.LocaleMiddleware):
    pass


class CommonMiddleware(InlineAsyncMixin, common.CommonMiddleware):
    pass


class CsrfViewMiddleware(InlineAsyncMixin, csrf.CsrfViewMiddleware):
    """The token check reads the form body for unsafe methods, so that case keeps its thread; with
    CSRF_USE_SESSIONS the secret is in the session (a database read), so every hook keeps it."""

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)
        if self.async_mode:
            self.process_view = self._process_view_async

    def request_needs_thread(self, request: HttpRequest) -> bool:
        return settings.CSRF_USE_SESSIONS

    def response_needs_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        return settings.CSRF_USE_SESSIONS

    async def _process_view_async(self, request: HttpRequest, callback: Any, args: Any, kwargs: Any) -> Any:
        check = super().process_view
        safe = getattr(callback, "csrf_exempt", False) or request.method in ("GET", "HEAD", "OPTIONS", "TRACE")
        if safe and not settings.CSRF_USE_SESSIONS:
            return check(request, callback, args, kwargs)
        return await sync_to_async(check, thread_sensitive=True)(request, callback, args, kwargs)


class AuthenticationMiddleware(InlineAsyncMixin, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(InlineAsyncMixin, messages.MessageMiddleware):
    """Messages that were read or added may be stored in the session, which may load it: in a thread."""

    def response_needs_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and (storage.used or storage.added_new)


class XFrameOptionsMiddleware(InlineAsyncMixin, clickjacking.XFrameOptionsMiddleware):
    pass
