"""Channels: the channel layer is a doorbell (at-most-once); nothing a client must see travels only on it."""

import environ

from .redis import REDIS_URL

env = environ.Env()

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [env("CHANNEL_LAYER_REDIS_URL", default=REDIS_URL)],
            "capacity": 100,
            "expiry": 30,
        },
    }
}
# daphne >= 4.2.2 bounds WebSocket messages; the protocol's own maximum is below it.
WEBSOCKET_MAX_MESSAGE_BYTES = env.int("WEBSOCKET_MAX_MESSAGE_BYTES", default=256 * 1024)
