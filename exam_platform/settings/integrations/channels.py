"""Channels: the channel layer is a doorbell (at-most-once); nothing a client must see travels only on it."""

import environ

from .redis import REDIS_URL

env = environ.Env()

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # channels_redis's pool refuses a command beyond max_connections (redis-py's default
            # is 100, which 2,000 sockets joining or leaving their groups at once exceed).
            "hosts": [
                {
                    "address": env("CHANNEL_LAYER_REDIS_URL", default=REDIS_URL),
                    "max_connections": env.int("CHANNEL_LAYER_MAX_CONNECTIONS", default=1000),
                }
            ],
            "capacity": 100,
            "expiry": 30,
        },
    }
}
# daphne >= 4.2.2 bounds WebSocket messages; the protocol's own maximum is below it.
WEBSOCKET_MAX_MESSAGE_BYTES = env.int("WEBSOCKET_MAX_MESSAGE_BYTES", default=256 * 1024)
