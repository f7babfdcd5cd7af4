"""The comparison server of the benchmarks: the platform plus two sockets that bound it from both sides.

Served by daphne exactly like exam_platform.asgi (it is that application with two more routes),
so the same clients (bench/loadgen.py --target ...) meet the same server, middleware and settings:

- `/ws/bench/echo/`: the transport limit. A bare Channels consumer that sends every frame back
  as it came: no validation, no Redis, no database.
- `/ws/bench/naive/`: the naive design. Every `answer.sync` is written straight into
  PostgreSQL with one upsert per answer (autocommit), the way a typical quiz app saves, and the
  reply is sent after the write. The examinee is looked up from the token at connect, as on
  `/ws/exam/`; nothing else is checked, so this is the naive design at its cheapest.
- `/ws/exam/` and all HTTP: the platform itself.

Not part of the platform: nothing outside bench/ imports this module.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import parse_qs

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exam_platform.settings.local")
django.setup(set_prefix=False)  # channels.auth needs the apps loaded

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.db import database_sync_to_async  # noqa: E402
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.db import connection  # noqa: E402
from django.urls import path  # noqa: E402
from django.utils import timezone  # noqa: E402

from exam_platform.asgi import django_asgi_app  # noqa: E402
from exam_platform.routing import websocket_urlpatterns  # noqa: E402
from monitoring.messages import CodedError  # noqa: E402
from plans.services.access import examinee_token_examinee_get  # noqa: E402

NAIVE_UPSERT = (
    'INSERT INTO "ANSWER_DATA" (examinee_id, group_id, plan_id, exam_id, user_id, question_id, answer_type, '
    "answer_value, last_modified, version) "
    'SELECT %s, %s, %s, %s, %s, q.question_id, q.question_type, %s, %s, %s FROM "QUESTION" q '
    "WHERE q.question_id = %s "
    "ON CONFLICT (examinee_id, question_id) DO UPDATE SET answer_value = EXCLUDED.answer_value, "
    'last_modified = EXCLUDED.last_modified, version = EXCLUDED.version WHERE "ANSWER_DATA".version < EXCLUDED.version'
)


class EchoConsumer(AsyncWebsocketConsumer):
    """Sends every text frame back unchanged (the transport limit)."""

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=text_data, bytes_data=bytes_data)


class NaiveConsumer(AsyncWebsocketConsumer):
    """One PostgreSQL upsert per answer of every `answer.sync`, acknowledged after the write."""

    examinee: Any = None

    async def connect(self) -> None:
        await self.accept()
        token = parse_qs(self.scope.get("query_string", b"").decode()).get("token", [""])[0]
        try:
            self.examinee = await database_sync_to_async(examinee_token_examinee_get)(token=token)
        except CodedError as error:
            await self.send(text_data=json.dumps(error.as_reply(), ensure_ascii=False))
            await self.close(code=4401)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.examinee is None:
            return
        message = json.loads(text_data or "{}")
        kind = message.get("type")
        if kind == "answer.sync":
            accepted = await database_sync_to_async(self.save)(message)
            reply: dict[str, Any] = {"type": "answer.ack", "seq": message.get("seq"), "accepted": accepted}
        elif kind == "heartbeat":
            reply = {"type": "heartbeat.ack", "serverTime": timezone.now().isoformat()}
        else:
            reply = {"type": "error", "code": "VAL-013", "seq": message.get("seq")}
        await self.send(text_data=json.dumps(reply, ensure_ascii=False))

    def save(self, message: dict[str, Any]) -> dict[str, int]:
        examinee = self.examinee
        now = timezone.now()
        accepted = {}
        with connection.cursor() as cursor:
            for question_id, change in message["answers"].items():
                cursor.execute(
                    NAIVE_UPSERT,
                    [
                        examinee.examinee_id, examinee.group_id, examinee.plan_id, message["examId"],
                        message["userId"], change["value"], now, change["version"], question_id,
                    ],
                )  # fmt: skip
                accepted[question_id] = change["version"]
        return accepted


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(
                URLRouter(
                    [
                        path("ws/bench/echo/", EchoConsumer.as_asgi()),
                        path("ws/bench/naive/", NaiveConsumer.as_asgi()),
                        *websocket_urlpatterns,
                    ]
                )
            )
        ),
    }
)
