"""Celery tasks of proctoring."""

from celery import shared_task

from .services import socket_sessions_expire


@shared_task(ignore_result=True, time_limit=120, soft_time_limit=100, expires=60)
def socket_sessions_expire_task() -> int:
    """Close socket sessions that stopped sending heartbeats (their server died)."""
    return socket_sessions_expire()
