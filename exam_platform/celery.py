"""The Celery application; configuration comes from Django settings (CELERY_ prefix)."""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exam_platform.settings.local")

app = Celery("exam_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def worker_process_tune(**_kwargs: object) -> None:
    """Each pool process spaces out its garbage collections (WORKER_GC_THRESHOLD), as the ASGI server
    does: a flush batch parses 2,000 stream entries into short-lived objects, and Python's default
    young threshold (700) made the collector walk them over and over (the batch's read and parse
    took 0.24 s for 10,000 changes with the default, 0.08 s spaced out; bench/flush_throughput.py)."""
    from django.conf import settings

    from exam_platform.runtime import gc_tune

    gc_tune(threshold=settings.WORKER_GC_THRESHOLD)
