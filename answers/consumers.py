"""The examinee's live channel `/ws/exam/` (docs/protocol.md): answer sync, recovery, heartbeats.

Thin: every frame is parsed by answers.services.protocol, and each message type calls one
service. Every message gets exactly one reply; bad input gets a coded `error` and the socket
stays open (../shared/RELIABILITY.md, finding 9). Doorbells only ring: exam state over the
channel layer, `answer.committed` over exam_platform.fanout (one PUBLISH per flush batch); the
durable state is in Redis and the database, and a reconnecting page runs `recover`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import parse_qs

import orjson
import redis
from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest
from django.utils import timezone, translation

from exam_platform.db import db_async
from exam_platform.fanout import fanout
from exam_platform.redis import redis_async_client
from monitoring.messages import CodedError, Msg
from monitoring.services.client_logs import LogOwner, client_log_enqueue
from plans.services.lifecycle import exam_examinee_epoch_key, exam_group_channel_name, exam_group_epoch_key
from proctoring.heartbeats import heartbeat_batch
from proctoring.services import ClientInfo

from .admission import HOLD_SECONDS, AdmissionRefused, admission_gate
from .api.authentication import examinee_cookie_token
from .connects import EPOCH_UNKNOWN, close_batch, connect_batch, epoch_format, examinee_contexts_load, recover_batch
from .keys import answer_committed_channel, examinee_channel_group
from .selectors import ExamineeContext
from .services.protocol import answer_sync_validate, message_parse
from .services.submit import answer_sheet_submit
from .services.sync import ContextOutdated, answer_sync_apply_async, early_flush_bell
from .tasks import answer_queue_flush_task

logger = logging.getLogger(__name__)

# The examinee's context (stage, paper, clock, pause) lives in the socket's memory: it is read on
# connect, on every lifecycle doorbell, when a save finds a state epoch moved (the Lua
# call that stores the save checks it, so no save is judged on an old state even when a doorbell
# is lost), when a heartbeat sees the epoch moved, and at least every CONTEXT_SAFETY_SECONDS.
CONTEXT_SAFETY_SECONDS = 300.0
# recover and submit read it again unless it is younger than this (recover follows connect at once).
CONTEXT_FRESH_SECONDS = 2.0
# How long saves may go on with a context the database could not refresh (a database outage; no
# lifecycle change can commit meanwhile, and the deadline is checked locally, so the context stays
# right; the bound only keeps a forgotten outage from running on for ever).
CONTEXT_STALE_LIMIT_SECONDS = 1800.0
# Refused in a row (SYS-003, see EXAM_SOCKET_MESSAGES_PER_SECOND) before the socket is closed as a flood.
FLOOD_CLOSE_AFTER = 200


class ExamConsumer(AsyncWebsocketConsumer):
    """One examinee page's socket."""

    examinee_id: str = ""
    group_id: str = ""
    socket_id: str = ""
    language: str = "ko"
    context: ExamineeContext | None = None
    # When this socket took its place at the process's admission gate (answers.admission), while it
    # holds it: from the connect until the first recover reply, the socket's close, or HOLD_SECONDS.
    admitted_at: float | None = None
    admission_hold: asyncio.TimerHandle | None = None
    # The socket's message budget, a token bucket (EXAM_SOCKET_MESSAGES_PER_SECOND and _BURST).
    rate: float = 0.0
    burst: float = 0.0
    tokens: float = 0.0
    refilled: float = 0.0

    async def dispatch(self, message: dict[str, Any]) -> None:
        """channels' dispatch without its hop to the database thread before every message
        (aclose_old_connections): this consumer reaches the database only through
        exam_platform.db.db_async, which gives its connection back around each call."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.language = self._language()
        await self.accept()
        gate = admission_gate()
        wait = gate.queue_wait()
        if 0 < wait <= gate.max_wait:
            # In line: the page waits this much longer for its recover reply.
            await self._send({"type": "admission.wait", "expectedSeconds": round(wait, 1)})
        try:
            admitted_at = await gate.enter()
        except AdmissionRefused as refused:
            # Too many examinees getting ready in this process: come back at the time handed out.
            await self._send(self._error_reply(CodedError(Msg.SYSTEM_BUSY, retryAfter=refused.retry_after)))
            await self.close(code=4503, reason=Msg.SYSTEM_BUSY.code)
            return
        self.admitted_at = admitted_at
        try:
            await self._connect_admitted()
        except BaseException:
            self._admission_leave()
            raise
        if self.examinee_id:
            self.admission_hold = asyncio.get_running_loop().call_later(HOLD_SECONDS, self._admission_leave)
        else:
            self._admission_leave()

    async def _connect_admitted(self) -> None:
        token = parse_qs(self.scope.get("query_string", b"").decode()).get("token", [""])[0]
        token = token or examinee_cookie_token(self.scope.get("cookies", {}))
        try:
            # One trip to a database thread with the other connects of the moment (answers.connects):
            # the token, the socket's row, the state epochs, then the context. The doorbells are
            # joined after: a change in between shows as a moved epoch at the next save or
            # heartbeat, so no state is missed, only a ring.
            ready = await connect_batch().ready(token, self._client_info())
            self.context = ready.context
            self.examinee_id = ready.examinee.examinee_id
            self.group_id = ready.examinee.group_id
            self.socket_id = ready.socket.socket_id
            self.groups = [examinee_channel_group(self.examinee_id), exam_group_channel_name(self.group_id)]
            await asyncio.gather(
                *(self.channel_layer.group_add(group, self.channel_name) for group in self.groups),
                fanout(answer_committed_channel()).join(self.examinee_id, self._committed),
            )
        except CodedError as error:
            await self._send(self._error_reply(error))
            await self.close(code=4401, reason=error.code)
            return
        self.rate = settings.EXAM_SOCKET_MESSAGES_PER_SECOND
        self.burst = settings.EXAM_SOCKET_MESSAGES_BURST
        self.tokens = self.burst
        self.refilled = time.monotonic()
        self.refused_in_row = 0

    def _admission_leave(self) -> None:
        """Give the admission gate its place back (once: recover answered, socket closed or held too long)."""
        admitted_at, self.admitted_at = self.admitted_at, None
        if admitted_at is None:
            return
        if self.admission_hold is not None:
            self.admission_hold.cancel()
        admission_gate().leave(admitted_at)

    async def disconnect(self, code: int) -> None:
        self._admission_leave()
        if self.examinee_id:
            fanout(answer_committed_channel()).leave(self.examinee_id, self._committed)
        for group in getattr(self, "groups", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        if self.socket_id:
            heartbeat_batch().forget(self.socket_id)
            await close_batch().call(self.socket_id)

    @staticmethod
    def _context_load(examinee_id: str, group_id: str) -> ExamineeContext:
        """In the database thread: the context read after the state epochs (answers.connects)."""
        context = examinee_contexts_load([(examinee_id, group_id)]).get(examinee_id)
        if context is None:
            raise CodedError(Msg.EXAM_NOT_FOUND, detail=examinee_id)
        return context

    def _language(self) -> str:
        """The page's language, as LocaleMiddleware would choose it (language cookie, then Accept-Language)."""
        request = HttpRequest()
        request.COOKIES = self.scope.get("cookies", {})
        for key, value in self.scope.get("headers", []):
            if key.lower() == b"accept-language":
                request.META["HTTP_ACCEPT_LANGUAGE"] = value.decode("latin-1")
        return translation.get_language_from_request(request)

    def _client_info(self) -> ClientInfo:
        headers = {
            key.decode("latin-1").lower(): value.decode("latin-1") for key, value in self.scope.get("headers", [])
        }
        client = self.scope.get("client") or ("", 0)
        forwarded = headers.get("x-forwarded-for", "").split(",")[0].strip()
        return ClientInfo(ip=forwarded or str(client[0]), browser=headers.get("user-agent", "")[:200])

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.examinee_id:
            return
        if not self._take_token():
            self.refused_in_row += 1
            await self._send(self._error_reply(CodedError(Msg.SYSTEM_RATE_LIMITED)))
            if self.refused_in_row > FLOOD_CLOSE_AFTER:
                await self.close(code=1008, reason=Msg.SYSTEM_RATE_LIMITED.code)
            return
        self.refused_in_row = 0
        seq = None
        try:
            message = message_parse(text_data, bytes_data)
            seq = message.get("seq") if type(message.get("seq")) is int else None
            handler = getattr(self, "handle_" + message["type"].replace(".", "_"))
            reply = await handler(message)
        except CodedError as error:
            reply = self._error_reply(error, seq)
        except Exception:
            logger.exception("exam socket message failed for %s", self.examinee_id)
            reply = self._error_reply(CodedError(Msg.SYSTEM_INTERNAL), seq)
        await self._send(reply)

    def _error_reply(self, error: CodedError, seq: int | None = None) -> dict[str, Any]:
        """The error's reply in the page's language. Only an error carries text, so only an error pays
        for switching the language (a save's ack does not)."""
        with translation.override(self.language):
            reply = error.as_reply()
        if seq is not None:
            reply["seq"] = seq
        return reply

    async def handle_answer_sync(self, message: dict[str, Any]) -> dict[str, Any]:
        sync = answer_sync_validate(message)
        context = await self._context()
        if context.write_refusal(now=timezone.now()) is not None or sync.test_code != context.test_code:
            # Refused on the state in memory (paused, closed, another paper): refused only if that
            # state is still the current one (the Lua epoch check never runs for a refusal).
            context = await self._context_current()
        try:
            result = await answer_sync_apply_async(context=context, message=sync, now=timezone.now())
        except ContextOutdated:
            # The group's state changed since the context was read: judge the save on the new one.
            context = await self._context(max_age=0.0)
            try:
                result = await answer_sync_apply_async(context=context, message=sync, now=timezone.now())
            except ContextOutdated:
                raise CodedError(Msg.SYSTEM_STORE_UNAVAILABLE, detail="exam state changing; retry") from None
        if result.needs_early_flush and early_flush_bell.due():
            await sync_to_async(answer_queue_flush_task.apply_async)(priority=9)
        return result.as_ack()

    async def handle_recover(self, message: dict[str, Any]) -> dict[str, Any]:
        try:
            context = await self._context(max_age=CONTEXT_FRESH_SECONDS)
            return await recover_batch().call(context)
        finally:
            self._admission_leave()  # ready: the next examinee waiting at the gate may come in

    async def handle_heartbeat(self, message: dict[str, Any]) -> dict[str, Any]:
        heartbeat_batch().mark(self.socket_id)
        # A lost doorbell shows here as a moved epoch; the page learns the new state from this reply.
        context = await self._context_current()
        now = timezone.now()
        return {
            "type": "heartbeat.ack",
            "serverTime": now.isoformat(),
            "remainingSeconds": context.remaining_seconds(now=now),
            "deadline": context.deadline.isoformat() if context.deadline else None,
            "paused": context.paused,
            "examStatus": context.exam_status,
            "stageId": context.stage_id,
            "testCode": context.test_code,
        }

    async def handle_log(self, message: dict[str, Any]) -> dict[str, Any]:
        """Page events (focus lost, reconnects, errors) for the log queue, apart from answers."""
        context = await self._context()
        owner = LogOwner(examinee_id=self.examinee_id, plan_id=context.plan_id, group_id=context.group_id)
        count = await sync_to_async(client_log_enqueue)(
            owner=owner, events=message.get("events"), received=timezone.now()
        )
        return {"type": "log.ack", "seq": message.get("seq"), "count": count}

    async def handle_submit(self, message: dict[str, Any]) -> dict[str, Any]:
        context = await self._context(max_age=CONTEXT_FRESH_SECONDS)
        return await db_async(answer_sheet_submit)(context=context, now=timezone.now())

    async def _committed(self, versions: dict[str, int]) -> None:
        """Doorbell from the flush (one PUBLISH per batch, exam_platform.fanout): these versions are
        in the database."""
        await self._send({"type": "answer.committed", "versions": versions})

    async def answer_committed(self, event: dict[str, Any]) -> None:
        """The same doorbell over the channel layer, as a worker of the previous release rings it."""
        await self._committed(event["versions"])

    async def exam_state(self, event: dict[str, Any]) -> None:
        """Doorbell from the lifecycle (pause, resume, start, completion): reload the context, tell the page."""
        await self._exam_event(event)

    async def exam_clock(self, event: dict[str, Any]) -> None:
        """Doorbell from the lifecycle (stage move, extra time, submit): reload the context, tell the page."""
        if event.get("examinee_id") not in (None, self.examinee_id):
            return
        await self._exam_event(event)

    async def _exam_event(self, event: dict[str, Any]) -> None:
        # The epoch is raised before the ring: an unmoved one means the context in memory was read
        # after the change (e.g. the exam's begin rung by this socket's own connect).
        context = await self._context_current()
        now = timezone.now()
        await self._send(
            {
                "type": event["type"],
                "status": event.get("status", ""),
                "reason": event.get("reason", ""),
                "code": event.get("code", ""),
                "examStatus": context.exam_status,
                "groupStatus": context.group_status,
                "paused": context.paused,
                "stageId": context.stage_id,
                "testCode": context.test_code,
                "deadline": context.deadline.isoformat() if context.deadline else None,
                "remainingSeconds": context.remaining_seconds(now=now),
                "serverTime": now.isoformat(),
            }
        )

    async def _epoch(self) -> str:
        """The state epochs of the group and the examinee now, as SYNC_APPLY compares them (one
        Redis MGET); EPOCH_UNKNOWN when Redis does not answer."""
        try:
            values = await redis_async_client().mget(
                exam_group_epoch_key(self.group_id), exam_examinee_epoch_key(self.examinee_id)
            )
        except redis.RedisError:
            return EPOCH_UNKNOWN
        return epoch_format(values)

    async def _context_read(self) -> ExamineeContext:
        """Read the context (_context_load) and follow the examinee into another group."""
        context = await db_async(self._context_load)(self.examinee_id, self.group_id)
        if context.group_id != self.group_id:
            # Moved to another group by an operator: follow its doorbell (the epoch is unknown, so
            # the next save reads the context again under the new group's epoch).
            await self.channel_layer.group_discard(exam_group_channel_name(self.group_id), self.channel_name)
            self.group_id = context.group_id
            self.groups = [examinee_channel_group(self.examinee_id), exam_group_channel_name(self.group_id)]
            await self.channel_layer.group_add(self.groups[1], self.channel_name)
        return context

    async def _context_current(self) -> ExamineeContext:
        """The context in memory if no state epoch moved since it was read (one Redis MGET), else
        read again: the one rule for "is this context still the examinee's state"."""
        context = self.context
        if context is not None and time.monotonic() - context.loaded_at < CONTEXT_SAFETY_SECONDS:
            epoch = await self._epoch()
            if epoch != EPOCH_UNKNOWN and epoch == context.epoch:
                return context
        return await self._context(max_age=0.0)

    async def _context(self, *, max_age: float = CONTEXT_SAFETY_SECONDS) -> ExamineeContext:
        context = self.context
        if context is None or time.monotonic() - context.loaded_at >= max_age:
            try:
                context = self.context = await self._context_read()
            except DatabaseError:
                if context is None or time.monotonic() - context.loaded_at > CONTEXT_STALE_LIMIT_SECONDS:
                    raise CodedError(Msg.SYSTEM_STORE_UNAVAILABLE, detail="database") from None
                # The database is down: saves keep going to Redis on the context known a moment ago.
                logger.warning("exam context refresh failed for %s; using the last one", self.examinee_id)
        return context

    def _take_token(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.refilled) * self.rate)
        self.refilled = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    async def _send(self, payload: dict[str, Any]) -> None:
        await self.send(text_data=orjson.dumps(payload).decode())
