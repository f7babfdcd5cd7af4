"""Celery tasks of the answer path: doorbells only. The answers live in the Redis Streams; a lost or
repeated task costs latency, never data (../shared/RELIABILITY.md, finding 6)."""

import logging

from celery import shared_task

from .services.flush import DatabaseUnavailable, answer_queue_flush, answer_queue_trim

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True, acks_late=True, time_limit=60, soft_time_limit=50, expires=10)
def answer_queue_flush_task() -> int:
    """Drain the answer queue into the database (beat rings it every second; the socket rings it early
    when the queue grows). Returns how many entries were committed."""
    try:
        result = answer_queue_flush(time_budget=30.0, max_batches=200)
    except DatabaseUnavailable as exc:
        # Nothing was acknowledged: the entries stay pending and are claimed again by a later flush.
        logger.warning("answer flush postponed, the database does not answer: %s", exc)
        return 0
    answer_queue_trim()
    return result.committed
