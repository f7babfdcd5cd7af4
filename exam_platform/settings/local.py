"""Local development and `make run`: debug on, a throwaway secret, localhost only."""

from .base import *  # noqa: F403
from .base import BASE_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="local-insecure-key-change-me-0123456789abcdefghijklmnop")
ACCESS_CODE_SECRET = env("ACCESS_CODE_SECRET", default=SECRET_KEY)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

# The embedded default keeps its SQLite file, media and Redis data under var/.
(BASE_DIR / "var").mkdir(exist_ok=True)
