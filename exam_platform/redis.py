"""One Redis client per process (creating one per message halves throughput, see PERFORMANCE.md).

Each client's pool is bounded (REDIS_MAX_CONNECTIONS) and blocking: a burst of saves beyond the
bound waits up to REDIS_SOCKET_TIMEOUT for a free connection instead of failing at once (redis-py's
default asyncio pool refuses the 101st concurrent command with MaxConnectionsError, which an
exam-start herd of 2,000 sockets reached: docs/benchmarks.md).

The answer Redis is named by REDIS_URL, or by REDIS_SENTINELS ("host:port,host:port") and
REDIS_SENTINEL_MASTER for a Sentinel-managed primary; REDIS_REPLICA_URL names a read replica
that recovery asks when the primary does not answer (seed 000, 5.2 "복제본 조회").
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import Any
from urllib.parse import urlparse

import hiredis
import redis
import redis.asyncio
import redis.sentinel
from django.conf import settings
from redis.asyncio.sentinel import Sentinel as AsyncSentinel


class HiredisPackedConnection(redis.asyncio.Connection):
    """redis-py's asyncio connection packs each command into the Redis protocol in Python, where its
    synchronous connection uses hiredis's C packer. Every save is an EVALSHA of some fifteen
    arguments, and the Python packing was about 5 % of daphne's event loop in the compare round
    (py-spy); this connection packs with hiredis as the synchronous client does (the same bytes).
    It calls hiredis.pack_command itself: redis-py's HiredisRespSerializer copies every argument
    through a generator first (4.3 µs a save against 1.8 µs)."""

    def pack_command(self, *args: Any) -> list[bytes]:
        command = args[0]
        if isinstance(command, str):  # "SCRIPT LOAD" goes as two words, as redis-py sends it
            args = (*command.encode().split(), *args[1:])
        elif b" " in command:
            args = (*command.split(), *args[1:])
        try:
            return [hiredis.pack_command(args)]
        except TypeError:  # a type hiredis does not take (memoryview...): redis-py's own packer
            return super().pack_command(*args)


def _options() -> dict[str, Any]:
    return {
        "socket_timeout": settings.REDIS_SOCKET_TIMEOUT,
        "socket_connect_timeout": settings.REDIS_SOCKET_TIMEOUT,
        "health_check_interval": 30,
    }


def _sentinel_hosts() -> list[tuple[str, int]]:
    hosts = []
    for item in settings.REDIS_SENTINELS:
        host, _sep, port = item.rpartition(":")
        hosts.append((host, int(port)))
    return hosts


def redis_database_number() -> int:
    """The answer Redis's database number (pub/sub channels are server-wide: their names carry it)."""
    path = urlparse(settings.REDIS_URL).path.strip("/")
    return int(path) if path.isdigit() else 0


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis:
    """The process-wide synchronous client of the answer Redis."""
    if settings.REDIS_SENTINELS:
        sentinel = redis.sentinel.Sentinel(_sentinel_hosts(), **_options())
        return sentinel.master_for(settings.REDIS_SENTINEL_MASTER, db=redis_database_number(), **_options())
    pool = redis.BlockingConnectionPool.from_url(
        settings.REDIS_URL,
        max_connections=settings.REDIS_MAX_CONNECTIONS,
        timeout=settings.REDIS_SOCKET_TIMEOUT,
        **_options(),
    )
    return redis.Redis(connection_pool=pool)


_async_clients: dict[int, redis.asyncio.Redis] = {}


def redis_async_client() -> redis.asyncio.Redis:
    """The asyncio client of the answer Redis for the running event loop (one per loop and process)."""
    loop_id = id(asyncio.get_running_loop())
    client = _async_clients.get(loop_id)
    if client is None:
        if settings.REDIS_SENTINELS:
            sentinel = AsyncSentinel(_sentinel_hosts(), **_options())
            client = sentinel.master_for(settings.REDIS_SENTINEL_MASTER, db=redis_database_number(), **_options())
        else:
            plain_tcp = urlparse(settings.REDIS_URL).scheme == "redis"  # TLS and unix sockets keep their class
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                settings.REDIS_URL,
                max_connections=settings.REDIS_MAX_CONNECTIONS,
                timeout=settings.REDIS_SOCKET_TIMEOUT,
                **({"connection_class": HiredisPackedConnection} if plain_tcp else {}),
                **_options(),
            )
            client = redis.asyncio.Redis(connection_pool=pool)
        _async_clients[loop_id] = client
    return client


def redis_pubsub_client(name: str) -> redis.asyncio.Redis:
    """A new asyncio client of the answer Redis for one long-lived subscription (exam_platform.fanout).

    Its own connection, outside the bounded pool, with no read timeout: the subscriber waits in
    get_message(timeout=...) and the health check pings an idle connection. `name` shows in
    CLIENT LIST.
    """
    options = {**_options(), "socket_timeout": None, "client_name": name}
    if settings.REDIS_SENTINELS:
        sentinel = AsyncSentinel(_sentinel_hosts(), **options)
        return sentinel.master_for(settings.REDIS_SENTINEL_MASTER, db=redis_database_number(), **options)
    return redis.asyncio.Redis.from_url(settings.REDIS_URL, **options)


def redis_replica_client() -> redis.Redis | None:
    """A client of the read replica: REDIS_REPLICA_URL, or a Sentinel replica; None when there is none."""
    if settings.REDIS_REPLICA_URL:
        return redis.Redis.from_url(settings.REDIS_REPLICA_URL, **_options())
    if settings.REDIS_SENTINELS:
        sentinel = redis.sentinel.Sentinel(_sentinel_hosts(), **_options())
        return sentinel.slave_for(settings.REDIS_SENTINEL_MASTER, db=redis_database_number(), **_options())
    return None
