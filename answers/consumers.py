"""The examinee's live channel `/ws/exam/` (docs/protocol.md): answer sync, recovery, heartbeats.

Thin: every frame is parsed by answers.services.protocol, and each message type calls one
service. Every message gets exactly one reply; bad input gets a coded `error` and the socket
stays open (../shared/RELIABILITY.md, finding 9). The channel layer only rings doorbells
(`answer.committed`, exam state); the durable state is in Redis and the database, and a
reconnecting page runs `recover`.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import DatabaseError
from django.utils import timezone

from monitoring.messages import CodedError, Msg
from plans.services.access import examinee_token_examinee_get

from .keys import examinee_channel_group
from .selectors import ExamineeContext, examinee_context_get
from .services.protocol import answer_sync_validate, message_parse
from .services.recovery import answer_recover
from .services.sync import answer_sync_apply_async
from .tasks import answer_queue_flush_task

logger = logging.getLogger(__name__)

CONTEXT_REFRESH_SECONDS = 2.0
# How long saves may go on with a context the database could not refresh (a database outage).
CONTEXT_STALE_LIMIT_SECONDS = 600.0
RATE_PER_SECOND = 20.0
RATE_BURST = 60.0
FLOOD_CLOSE_AFTER = 200


class ExamConsumer(AsyncWebsocketConsumer):
    """One examinee page's socket."""

    examinee_id: str = ""
    context: ExamineeContext | None = None

    async def connect(self) -> None:
        await self.accept()
        token = parse_qs(self.scope.get("query_string", b"").decode()).get("token", [""])[0]
        if not token:
            session = self.scope.get("session")
            token = session.get("examinee_token", "") if session is not None else ""
        try:
            examinee = await database_sync_to_async(examinee_token_examinee_get)(token=token)
            self.examinee_id = examinee.examinee_id
            self.context = await database_sync_to_async(examinee_context_get)(examinee_id=self.examinee_id)
        except CodedError as error:
            await self._send(error.as_reply())
            await self.close(code=4401, reason=error.code)
            return
        self.tokens = RATE_BURST
        self.refilled = time.monotonic()
        self.refused_in_row = 0
        await self.channel_layer.group_add(examinee_channel_group(self.examinee_id), self.channel_name)

    async def disconnect(self, code: int) -> None:
        if self.examinee_id:
            await self.channel_layer.group_discard(examinee_channel_group(self.examinee_id), self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.examinee_id:
            return
        if not self._take_token():
            self.refused_in_row += 1
            await self._send(Msg.SYSTEM_RATE_LIMITED.as_reply())
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
            reply = error.as_reply()
            if seq is not None:
                reply["seq"] = seq
        except Exception:
            logger.exception("exam socket message failed for %s", self.examinee_id)
            reply = Msg.SYSTEM_INTERNAL.as_reply()
            if seq is not None:
                reply["seq"] = seq
        await self._send(reply)

    async def handle_answer_sync(self, message: dict[str, Any]) -> dict[str, Any]:
        sync = answer_sync_validate(message)
        context = await self._context()
        result = await answer_sync_apply_async(context=context, message=sync, now=timezone.now())
        if result.needs_early_flush:
            await sync_to_async(answer_queue_flush_task.apply_async)(priority=9)
        return result.as_ack()

    async def handle_recover(self, message: dict[str, Any]) -> dict[str, Any]:
        context = await self._context(force=True)
        return await database_sync_to_async(answer_recover)(context=context, now=timezone.now())

    async def handle_heartbeat(self, message: dict[str, Any]) -> dict[str, Any]:
        context = await self._context()
        return {
            "type": "heartbeat.ack",
            "serverTime": timezone.now().isoformat(),
            "remainingSeconds": context.remaining_seconds(now=timezone.now()),
            "examStatus": context.exam_status,
            "stageId": context.stage_id,
        }

    async def handle_submit(self, message: dict[str, Any]) -> dict[str, Any]:
        raise CodedError(Msg.VALIDATION_UNKNOWN_TYPE, detail="submit is not available yet")

    async def answer_committed(self, event: dict[str, Any]) -> None:
        """Doorbell from the flush: these versions are in the database."""
        await self._send({"type": "answer.committed", "versions": event["versions"]})

    async def exam_state(self, event: dict[str, Any]) -> None:
        """Doorbell from the lifecycle: reload the context and tell the page."""
        self.context = None
        await self._send({"type": "exam.state", **{k: v for k, v in event.items() if k != "type"}})

    async def _context(self, *, force: bool = False) -> ExamineeContext:
        context = self.context
        if force or context is None or time.monotonic() - context.loaded_at > CONTEXT_REFRESH_SECONDS:
            try:
                context = self.context = await database_sync_to_async(examinee_context_get)(
                    examinee_id=self.examinee_id
                )
            except DatabaseError:
                if context is None or time.monotonic() - context.loaded_at > CONTEXT_STALE_LIMIT_SECONDS:
                    raise CodedError(Msg.SYSTEM_STORE_UNAVAILABLE, detail="database") from None
                # The database is down: saves keep going to Redis on the context known a moment ago.
                logger.warning("exam context refresh failed for %s; using the last one", self.examinee_id)
        return context

    def _take_token(self) -> bool:
        now = time.monotonic()
        self.tokens = min(RATE_BURST, self.tokens + (now - self.refilled) * RATE_PER_SECOND)
        self.refilled = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    async def _send(self, payload: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(payload, ensure_ascii=False))
