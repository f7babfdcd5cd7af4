"""Reads of monitoring data."""

from typing import Any

import redis
from django.db import DatabaseError, connection

from exam_platform.redis import redis_client


def platform_health_get() -> dict[str, Any]:
    """Whether the database and the answer Redis answer right now."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except DatabaseError as exc:
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        redis_client().ping()
        checks["redis"] = "ok"
    except redis.RedisError as exc:
        checks["redis"] = f"error: {exc.__class__.__name__}"
    return {"ok": all(value == "ok" for value in checks.values()), "checks": checks}
