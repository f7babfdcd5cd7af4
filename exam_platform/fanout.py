"""Doorbells for many sockets at once: one Redis PUBLISH per batch, fanned out inside each process.

The flush commits changes of up to thousands of examinees per batch. Ringing each examinee's
channel-layer group costs one message per examinee, and channels_redis delivers them to a daphne
process one Redis round trip at a time on its busy event loop: at 400 saves/s the rings arrived
tens of seconds late (docs/benchmarks.md). Here the worker publishes one message per batch,
`{key: payload}`; every ASGI process holds one subscription per event loop and hands each payload
to the sockets of this process that joined under its key.

It is a doorbell like the channel layer (../shared/STYLE.md): Redis pub/sub keeps nothing, so a
ring published while a process is re-subscribing (a Redis restart) is lost, and the durable state
it announces is in Redis and the database, where `recover` reads it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import redis
import redis.asyncio

from .redis import redis_client, redis_pubsub_client

logger = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[None]]

# How long a socket's join waits for the subscription before going on without it (rings lost meanwhile).
JOIN_WAIT_SECONDS = 5.0
# How long one read of the subscription waits; an idle connection is pinged meanwhile (health check).
READ_SECONDS = 10.0
RESUBSCRIBE_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)
# A batch rings up to thousands of local sockets, and a handler's send does not yield: after this
# many handlers the delivery lets the event loop serve the saves waiting for their acks.
HANDLERS_PER_TURN = 50


def fanout_publish(channel: str, payloads: dict[str, Any], *, client: redis.Redis | None = None) -> int:
    """Publish one batch of rings (key -> payload); never raises. Returns how many processes heard it."""
    if not payloads:
        return 0
    try:
        return int((client or redis_client()).publish(channel, orjson.dumps(payloads)))
    except redis.RedisError:  # a doorbell must never fail the committed change that rang it
        logger.warning("%d doorbells on %s not published", len(payloads), channel, exc_info=True)
        return 0


class Fanout:
    """The subscription of one event loop to one channel, and the local handlers by key."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.handlers: dict[str, set[Handler]] = {}
        self.task: asyncio.Task | None = None
        self.subscribed = asyncio.Event()
        self.lost = False  # the subscription was live and its connection broke; not yet back
        # As CLIENT LIST shows the subscription (an operator, or a fault test, can find it).
        self.client_name = f"fanout:{channel}:{os.getpid()}"

    async def join(self, key: str, handler: Handler) -> bool:
        """Hand the payloads published under `key` to `handler` from now on. Returns whether the
        subscription is live (else rings are lost until it is; the caller's state is durable elsewhere)."""
        self.handlers.setdefault(key, set()).add(handler)
        if self.task is None or self.task.done():
            self.subscribed.clear()
            self.lost = False
            self.task = asyncio.get_running_loop().create_task(self._listen())
        if self.lost:
            # Resubscribing after a lost connection (Redis restarting): a connect does not wait for it.
            return False
        try:
            await asyncio.wait_for(self.subscribed.wait(), JOIN_WAIT_SECONDS)
        except TimeoutError:
            logger.warning("no subscription to %s yet; doorbells are lost until there is", self.channel)
            return False
        return True

    def leave(self, key: str, handler: Handler) -> None:
        handlers = self.handlers.get(key)
        if handlers is not None:
            handlers.discard(handler)
            if not handlers:
                del self.handlers[key]
        if not self.handlers and self.task is not None:
            self.task.cancel()
            self.task = None

    async def deliver(self, data: bytes | str) -> int:
        """Hand one published batch to the local handlers; a failing handler is logged and skipped."""
        try:
            payloads = orjson.loads(data)
        except ValueError:
            logger.warning("unreadable batch on %s", self.channel)
            return 0
        delivered = called = 0
        for key, payload in payloads.items():
            for handler in list(self.handlers.get(key, ())):
                called += 1
                if called % HANDLERS_PER_TURN == 0:
                    await asyncio.sleep(0)
                if handler not in self.handlers.get(key, ()):
                    continue  # its socket closed while the loop served others
                try:
                    await handler(payload)
                except Exception:
                    logger.warning("doorbell on %s for %s failed", self.channel, key, exc_info=True)
                else:
                    delivered += 1
        return delivered

    async def _listen(self) -> None:
        failures = 0
        while self.handlers:
            client = redis_pubsub_client(self.client_name)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.lost = False
                self.subscribed.set()
                failures = 0
                while self.handlers:
                    message = await pubsub.get_message(timeout=READ_SECONDS)
                    if message is not None and message["type"] == "message":
                        await self.deliver(message["data"])
            except (redis.RedisError, OSError):
                self.subscribed.clear()
                self.lost = True
                delay = RESUBSCRIBE_DELAYS[min(failures, len(RESUBSCRIBE_DELAYS) - 1)]
                failures += 1
                logger.warning("subscription to %s lost; again in %.1f s", self.channel, delay, exc_info=True)
                await asyncio.sleep(delay)
            finally:
                self.subscribed.clear()
                await _quietly_close(pubsub, client)


async def _quietly_close(pubsub: Any, client: redis.asyncio.Redis) -> None:
    try:
        await pubsub.aclose()
        await client.aclose()
    except Exception:  # closing a broken connection may fail again; nothing is left to do
        pass


_fanouts: dict[tuple[int, str], Fanout] = {}


def fanout(channel: str) -> Fanout:
    """The fan-out of `channel` for the running event loop (one per loop, channel and process)."""
    key = (id(asyncio.get_running_loop()), channel)
    found = _fanouts.get(key)
    if found is None:
        found = _fanouts[key] = Fanout(channel)
    return found
