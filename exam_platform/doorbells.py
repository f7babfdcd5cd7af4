"""Ringing doorbells on the channel layer from synchronous code (a Celery task, a service after commit).

The channel layer is a doorbell, not a mailbox: what a page must know is durable elsewhere, and a
lost ring costs latency only. Many rings go out from one event loop, a few at a time over the
layer's connection pool, instead of one `async_to_sync` (a new loop, a new Redis connection) each.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

RINGS_AT_ONCE = 32


def doorbells_ring(rings: Iterable[tuple[str, dict[str, Any]]]) -> int:
    """Send each (channel group, event); a failed ring is logged and never raised. Returns how many went out."""
    rings = list(rings)
    layer = get_channel_layer()
    if layer is None or not rings:
        return 0

    async def ring_all() -> int:
        gate = asyncio.Semaphore(RINGS_AT_ONCE)

        async def ring(group: str, event: dict[str, Any]) -> bool:
            async with gate:
                try:
                    await layer.group_send(group, event)
                except Exception:
                    logger.warning("doorbell %s for %s not sent", event.get("type"), group, exc_info=True)
                    return False
                return True

        sent = await asyncio.gather(*(ring(group, event) for group, event in rings))
        return sum(sent)

    try:
        return async_to_sync(ring_all)()
    except Exception:  # a doorbell must never fail the committed change that rang it
        logger.warning("%d doorbells not sent", len(rings), exc_info=True)
        return 0
