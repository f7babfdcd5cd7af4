"""Redis: one URL for the hot answer cache, the answer/media/log streams and the channel layer.

Production runs the answer Redis with `appendonly yes`, `appendfsync everysec` (or `always`)
and `maxmemory-policy noeviction` (see docs/operations.md). A Sentinel setup is named with
REDIS_SENTINELS ("host:port,host:port") and REDIS_SENTINEL_MASTER; a read replica for recovery
with REDIS_REPLICA_URL.
"""

import environ

env = environ.Env()

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
REDIS_REPLICA_URL = env("REDIS_REPLICA_URL", default="")
REDIS_SENTINELS = env.list("REDIS_SENTINELS", default=[])
REDIS_SENTINEL_MASTER = env("REDIS_SENTINEL_MASTER", default="mymaster")
# Seconds a socket waits for Redis before the request gets an error code instead of an ack.
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=2.0)
# Connections of each process's answer-Redis client; commands beyond it wait for a free one.
REDIS_MAX_CONNECTIONS = env.int("REDIS_MAX_CONNECTIONS", default=64)
# The seed's hot window: committed cache entries live this long (seconds).
ANSWER_CACHE_TTL_SECONDS = env.int("ANSWER_CACHE_TTL_SECONDS", default=300)
# A flush claims queue entries left pending this long by another (dead or stuck) worker.
ANSWER_FLUSH_CLAIM_IDLE_MS = env.int("ANSWER_FLUSH_CLAIM_IDLE_MS", default=15_000)
# An entry the database refuses this many times moves to the reprocess (dead-letter) queue.
ANSWER_FLUSH_MAX_DELIVERIES = env.int("ANSWER_FLUSH_MAX_DELIVERIES", default=5)
# Queue entries per flush transaction: larger batches pay the per-statement cost less often.
ANSWER_FLUSH_BATCH_SIZE = env.int("ANSWER_FLUSH_BATCH_SIZE", default=2000)
