"""Tests: real PostgreSQL and Redis (never SQLite); only the hasher, email and media differ."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import BASE_DIR, DATABASES, env

SECRET_KEY = env("DJANGO_SECRET_KEY", default="test-key-not-for-production-0123456789abcdefghijklmn")
ACCESS_CODE_SECRET = SECRET_KEY
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "var" / "test-media"))

if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("Tests run on PostgreSQL only: set DATABASE_URL=postgres://... (make test does).")

# A test holds database connections of its own (its thread, asgiref's sync thread) that are not
# given back between calls, so the sockets' database threads (exam_platform.db) stay fewer than
# the pool's connections: twenty sockets of one test then never wait for a connection.
DATABASE_THREADS = env.int("DATABASE_THREADS", default=4)
# pytest's own process imports the ASGI application: its collector stays Python's.
ASGI_GC_THRESHOLD = env.int("ASGI_GC_THRESHOLD", default=0)
