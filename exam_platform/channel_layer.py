"""The channel layer: channels_redis with a bounded, blocking connection pool.

channels_redis builds a plain redis-py pool, which refuses a command once max_connections are in
use (MaxConnectionsError, and the socket that asked is closed). An exam-start herd (thousands of
sockets joining their two groups in the same second) reached any bound we set. A blocking pool
makes those commands wait for a free connection (up to `pool_timeout` seconds) instead.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio
from channels_redis.core import RedisChannelLayer


class BoundedRedisChannelLayer(RedisChannelLayer):
    """RedisChannelLayer whose per-loop pools block (host options: address, max_connections, pool_timeout)."""

    def create_pool(self, index: int) -> Any:
        host = dict(self.hosts[index])
        if "address" not in host:  # a Sentinel host: channels_redis's own pool
            return super().create_pool(index)
        address = host.pop("address")
        timeout = host.pop("pool_timeout", 20)
        return redis.asyncio.BlockingConnectionPool.from_url(address, timeout=timeout, **host)
