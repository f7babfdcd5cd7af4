"""One Redis client per process (creating one per message halves throughput, see PERFORMANCE.md)."""

from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis:
    """The process-wide synchronous client of the answer Redis (settings.REDIS_URL)."""
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
        socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
        health_check_interval=30,
    )


_async_clients: dict[int, "redis.asyncio.Redis"] = {}


def redis_async_client() -> "redis.asyncio.Redis":
    """The asyncio client of the answer Redis for the running event loop (one per loop and process)."""
    import asyncio

    import redis.asyncio

    loop_id = id(asyncio.get_running_loop())
    client = _async_clients.get(loop_id)
    if client is None:
        client = redis.asyncio.Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
            socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
            health_check_interval=30,
        )
        _async_clients[loop_id] = client
    return client


def redis_replica_client() -> redis.Redis | None:
    """A client of the read replica (settings.REDIS_REPLICA_URL), for recovery when the primary is down."""
    if not settings.REDIS_REPLICA_URL:
        return None
    return redis.Redis.from_url(
        settings.REDIS_REPLICA_URL,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
        socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
    )
