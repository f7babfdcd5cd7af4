"""Production: every secret and every server from the environment, HTTPS only, hardened cookies.

Differs from base only by values and by refusing to start without them: a missing secret key,
host list, database or Redis raises ImproperlyConfigured instead of silently falling back to the
local defaults (a SQLite file, a Redis on localhost) that would lose answers. The README's
"Configuration" and "Production check" sections list the variables; `manage.py check --deploy`
with these settings reports no issue (tests/platform/test_deploy_check.py).
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import ACCESS_CODE_SECRET, ALLOWED_HOSTS, DATABASES, SECRET_KEY, env

# Django's own deploy check (security.W009) calls a key weak below 50 characters, below 5
# distinct characters or with the `django-insecure-` prefix of startproject; refuse to start
# with one rather than only warn, because sessions and (by default) access codes hang on it.
SECRET_KEY_MIN_LENGTH = 50
ACCESS_CODE_SECRET_MIN_LENGTH = 32

if not SECRET_KEY:
    raise ImproperlyConfigured("Set DJANGO_SECRET_KEY (or SECRET_KEY) in the environment.")
if len(SECRET_KEY) < SECRET_KEY_MIN_LENGTH or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure-"):
    raise ImproperlyConfigured(
        f"DJANGO_SECRET_KEY is weak: use at least {SECRET_KEY_MIN_LENGTH} random characters "
        '(python -c "import secrets; print(secrets.token_urlsafe(64))").'
    )
# ACCESS_CODE_SECRET defaults to SECRET_KEY (base); a separate value lets SECRET_KEY rotate without
# invalidating every issued access code. Whoever holds this key and a copy of EXAMINEE can try all
# codes offline, so it must be as secret and as long as the secret key.
if len(ACCESS_CODE_SECRET) < ACCESS_CODE_SECRET_MIN_LENGTH:
    raise ImproperlyConfigured(f"ACCESS_CODE_SECRET must have at least {ACCESS_CODE_SECRET_MIN_LENGTH} characters.")

DEBUG = False
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("Set DJANGO_ALLOWED_HOSTS (comma-separated host names) in the environment.")

# The answer path needs PostgreSQL and a Redis that is configured for it; base's local defaults
# (a SQLite file under var/, redis://127.0.0.1:6379/0) are for `make run` only.
if not env("DATABASE_URL", default=""):
    raise ImproperlyConfigured("Set DATABASE_URL=postgres://... in the environment.")
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("Production runs on PostgreSQL only: DATABASE_URL must be postgres://...")
if not env("REDIS_URL", default=""):
    raise ImproperlyConfigured("Set REDIS_URL=redis://... (the answer Redis) in the environment.")
# Connections come from base's bounded psycopg pool (DATABASE_POOL_MAX_SIZE per process, default 8):
# Django's documentation advises against persistent connections under ASGI, where every request
# runs in a thread of its own. Size it so that (ASGI processes + Celery processes) x max size stays
# below PostgreSQL's max_connections, or put PgBouncer in front and set DATABASE_POOL_MAX_SIZE=0.

# HTTPS: TLS ends at the load balancer, which must set X-Forwarded-Proto (and strip it from clients).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Load balancers probe the health check over plain HTTP inside the network; a redirect would read
# as "down". The check reveals only whether the database and Redis answer.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
