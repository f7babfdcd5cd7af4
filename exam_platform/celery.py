"""The Celery application; configuration comes from Django settings (CELERY_ prefix)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exam_platform.settings.local")

app = Celery("exam_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
