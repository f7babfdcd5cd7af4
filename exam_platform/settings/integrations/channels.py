"""Channels: the channel layer is a doorbell (at-most-once); nothing a client must see travels only on it."""

import environ

from .redis import REDIS_URL

env = environ.Env()

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "exam_platform.channel_layer.BoundedRedisChannelLayer",
        "CONFIG": {
            # Each process's pool holds at most max_connections; a command beyond it waits up to
            # pool_timeout seconds (exam_platform.channel_layer).
            "hosts": [
                {
                    "address": env("CHANNEL_LAYER_REDIS_URL", default=REDIS_URL),
                    "max_connections": env.int("CHANNEL_LAYER_MAX_CONNECTIONS", default=200),
                    "pool_timeout": 20,
                    # channels_redis waits for messages with a 5 s BZPOPMIN; redis-py 8's default 5 s
                    # read timeout raced it and killed idle sockets with 1011 (redis/redis-py#4091).
                    "socket_timeout": 15,
                    "socket_connect_timeout": 5,
                }
            ],
            # The sockets of one ASGI process share one Redis list for their messages, and capacity
            # bounds that list: a flush ringing 500 examinees' doorbells at once overflowed the
            # default 100 and the rings were dropped (docs/benchmarks.md).
            "capacity": env.int("CHANNEL_LAYER_CAPACITY", default=20000),
            "expiry": 30,
        },
    }
}
# daphne >= 4.2.2 bounds WebSocket messages; the protocol's own maximum is below it.
WEBSOCKET_MAX_MESSAGE_BYTES = env.int("WEBSOCKET_MAX_MESSAGE_BYTES", default=256 * 1024)
