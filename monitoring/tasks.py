"""Celery tasks of monitoring: doorbells over durable queues."""

from celery import shared_task

from .services.client_logs import client_logs_flush


@shared_task(ignore_result=True, acks_late=True, time_limit=120, soft_time_limit=100, expires=30)
def client_logs_flush_task() -> int:
    """Write the queued page logs to the log storage (beat rings it every 10 s)."""
    return client_logs_flush()
