"""The channel layer's pool is bounded and blocking: a burst beyond it waits instead of failing."""

import asyncio

import pytest
from django.conf import settings

from exam_platform.channel_layer import BoundedRedisChannelLayer


@pytest.mark.asyncio
async def test_a_burst_beyond_the_pool_waits_and_every_ring_arrives(redis_conn):
    """200 sockets of one process join their groups at once through a pool of 4 connections; every
    ring arrives (the process's sockets share one list, which the configured capacity must hold)."""
    # given
    layer = BoundedRedisChannelLayer(
        hosts=[{"address": settings.REDIS_URL, "max_connections": 4}],
        capacity=settings.CHANNEL_LAYERS["default"]["CONFIG"]["capacity"],
    )
    channels = [await layer.new_channel() for _ in range(200)]
    # when
    await asyncio.gather(*(layer.group_add(f"burst.{i}", channel) for i, channel in enumerate(channels)))
    await asyncio.gather(*(layer.group_send(f"burst.{i}", {"type": "ring", "n": i}) for i in range(200)))
    received = await asyncio.gather(*(asyncio.wait_for(layer.receive(channel), 10) for channel in channels))
    # then
    assert [message["n"] for message in received] == list(range(200))
    assert layer.connection(0).connection_pool.max_connections == 4
    await layer.flush()
