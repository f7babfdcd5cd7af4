"""Celery tasks of the exam lifecycle: thin, stateless, idempotent (issue 4, "Exam lifecycle and timing").

Beat rings `stage_deadlines_enforce_task` every second (plans/management/commands/
setup_periodic_tasks.py). Each run reads the due deadlines from the database, so a worker or beat
restart loses nothing: the next tick carries out every deadline that passed meanwhile, with the
next stage starting at the deadline itself (the schedule does not drift). `expires` drops ticks
that queued up while no worker ran; one tick does all the work that is due.
"""

import logging

from celery import shared_task
from django.utils import timezone

from .services.lifecycle import group_progress_reconcile, stage_deadlines_enforce

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True, acks_late=True, time_limit=55, soft_time_limit=45, expires=5)
def stage_deadlines_enforce_task() -> int:
    """Move examinees whose AUTO_MOVE 'Y' stage deadline passed; submit after the last stage."""
    moved = stage_deadlines_enforce(now=timezone.now())
    if moved:
        logger.info("stage deadlines: %d examinee(s) moved or submitted", moved)
    return moved


@shared_task(ignore_result=True, acks_late=True, time_limit=300, soft_time_limit=240, expires=120)
def group_progress_reconcile_task() -> int:
    """Recount GROUP_PROGRESS of every group not completed; returns how many had drifted."""
    return group_progress_reconcile()
