"""Settings shared by every environment; values come from the environment (12-factor).

Environment-specific modules (`local`, `test`, `production`) import this one and change
only what differs. Integrations (celery, channels, storages, redis) are imported at the end.
"""

from pathlib import Path
from urllib.parse import unquote

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    env.read_env(str(BASE_DIR / ".env"))

# Core ------------------------------------------------------------------------------------
SECRET_KEY = env("DJANGO_SECRET_KEY", default=env("SECRET_KEY", default=""))
DEBUG = env.bool("DJANGO_DEBUG", default=env.bool("DEBUG", default=False))
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=env.list("ALLOWED_HOSTS", default=[]))
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Internationalisation: a Korean exam system first, English available.
LANGUAGE_CODE = "ko"
LANGUAGES = [("ko", _("Korean")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Seoul"
USE_I18N = True
USE_TZ = True

# Applications ----------------------------------------------------------------------------
DJANGO_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "channels",
    "django_celery_beat",
    "import_export",
]
LOCAL_APPS = [
    "plans",
    "answers",
    "proctoring",
    "monitoring",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    # Django's own, run inline on the event loop under ASGI (see exam_platform/middleware.py).
    "exam_platform.middleware.SecurityMiddleware",
    "exam_platform.middleware.SessionMiddleware",
    "exam_platform.middleware.LocaleMiddleware",
    "exam_platform.middleware.CommonMiddleware",
    "exam_platform.middleware.CsrfViewMiddleware",
    "exam_platform.middleware.AuthenticationMiddleware",
    "exam_platform.middleware.MessageMiddleware",
    "exam_platform.middleware.XFrameOptionsMiddleware",
]

# Django finds its protective middleware by dotted path; the subclasses above are checked by class
# instead (exam_platform.checks, exam_platform.W001-W003).
SILENCED_SYSTEM_CHECKS = ["security.W001", "security.W002", "security.W003"]

ROOT_URLCONF = "exam_platform.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "exam_platform.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database --------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")}
# A Unix-socket directory is written percent-encoded in the URL's host (postgres://user@%2Frun%2Fpostgresql/db).
DATABASES["default"]["HOST"] = unquote(DATABASES["default"].get("HOST") or "")
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DATABASE_POOL_MAX_SIZE = env.int("DATABASE_POOL_MAX_SIZE", default=8)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DATABASE_POOL_MAX_SIZE:
    # A bounded psycopg pool per process (docs/benchmarks.md): Django's ASGI handler gives every
    # concurrent request its own thread, so without a bound an exam-start herd of sign-ins opens
    # one PostgreSQL connection each and exhausts max_connections; and without reuse every
    # database_sync_to_async call of a socket pays a new connection. Requests beyond the bound
    # wait up to DATABASE_POOL_TIMEOUT seconds for a free connection. (A pool needs CONN_MAX_AGE 0.)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
        "max_size": DATABASE_POOL_MAX_SIZE,
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=30.0),
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default runs daphne, a Celery worker and beat against one file:
    # WAL lets readers and one writer work together, IMMEDIATE avoids upgrade deadlocks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
# Threads of an ASGI process that run its sockets' database calls (exam_platform.db); not more
# than the pool holds, so that no thread waits for a connection.
DATABASE_THREADS = env.int("DATABASE_THREADS", default=min(8, DATABASE_POOL_MAX_SIZE or 8))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The cyclic garbage collector of an ASGI process (exam_platform.runtime.gc_tune): the objects alive at
# start-up are frozen out of its walks, and its young generation runs every ASGI_GC_THRESHOLD
# container allocations (Python's default, 700, let full collections of 600-900 ms stop a daphne
# of 5,000 examinees every two seconds). 0 leaves Python's collector as it is.
ASGI_GC_THRESHOLD = env.int("ASGI_GC_THRESHOLD", default=50_000)
# The same for each Celery pool process (exam_platform.celery.worker_process_tune), whose flush
# batches parse thousands of stream entries at a time.
WORKER_GC_THRESHOLD = env.int("WORKER_GC_THRESHOLD", default=50_000)
# Examinees of one ASGI process getting ready (connect and first recover) at once, and the longest
# wait in line (told to the page with admission.wait) before a newcomer is told to come back later
# (answers.admission, SYS-005). The connects and recovers of the moment go to the database in
# batches of up to 50, two at a time (answers.connects), so the gate must let in more than that to
# keep them full: at 24 and 20 s a herd of 2,000 on one daphne sent 2,389 pages away to come back
# and took 64.7 s; at 200 and 60 s none were sent away and it took 20.3 s (2026-12-08, the lab of
# docs/benchmarks.md item 33). A page in line is told its wait, so it waits instead of timing out.
EXAM_ADMISSION_IN_FLIGHT = env.int("EXAM_ADMISSION_IN_FLIGHT", default=200)
EXAM_ADMISSION_MAX_WAIT_SECONDS = env.float("EXAM_ADMISSION_MAX_WAIT_SECONDS", default=60.0)
# Messages an exam socket may send per second on average, and at once (a token bucket); more are
# answered SYS-003 and, after 200 refused in a row, the socket is closed. A page sends one save
# every 5 s and a heartbeat every 20-30 s, a reconnecting page its journal in one burst.
EXAM_SOCKET_MESSAGES_PER_SECOND = env.float("EXAM_SOCKET_MESSAGES_PER_SECOND", default=20.0)
EXAM_SOCKET_MESSAGES_BURST = env.float("EXAM_SOCKET_MESSAGES_BURST", default=60.0)

# Auth ------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
# Access codes are random secrets of at least 60 bits: one keyed HMAC-SHA256 is enough to keep
# them out of the database in clear, and keeps 10,000 sign-ins at an exam's start cheap.
ACCESS_CODE_SECRET = env("ACCESS_CODE_SECRET", default="") or SECRET_KEY

# Static and media ------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))

# Logging ---------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# Django REST framework -------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "exam_platform.api.coded_exception_handler",
}

# Import/export: every import runs in one transaction; one bad row imports nothing.
IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_SKIP_ADMIN_LOG = False

from .integrations.celery import *  # noqa: E402,F403
from .integrations.channels import *  # noqa: E402,F403
from .integrations.redis import *  # noqa: E402,F403
from .integrations.storages import *  # noqa: E402,F403
