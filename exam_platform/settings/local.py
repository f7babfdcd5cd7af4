"""Local development and `make run`: debug on, a throwaway secret, localhost only."""

from pathlib import Path

from .base import *  # noqa: F403
from .base import BASE_DIR, DATABASES, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="local-insecure-key-change-me-0123456789abcdefghijklmnop")
ACCESS_CODE_SECRET = env("ACCESS_CODE_SECRET", default=SECRET_KEY)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

# The embedded default keeps its SQLite file, media, static files, Redis data and the demo
# credentials under var/; EXAM_VAR_DIR moves all of them (the `make run` test uses a temp dir).
VAR_DIR = Path(env("EXAM_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)
if not env("DATABASE_URL", default=""):
    DATABASES["default"]["NAME"] = str(VAR_DIR / "db.sqlite3")
STATIC_ROOT = VAR_DIR / "staticfiles"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))
