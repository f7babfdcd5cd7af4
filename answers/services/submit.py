"""The examinee's final submit: close the sheet in the cache, end the sitting, write ANSWER (2.6).

Order matters for the promise: the cache sheet is closed first (the sync script refuses every
later change), then the final answers are read as the union of cache and database by version
(recovery), and the lifecycle transition and the ANSWER rows are written in one transaction.
Changes still in the answer queue reach ANSWER_DATA through the flush, which also refreshes
ANSWER of submitted examinees, so nothing acknowledged before the submit is left out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import redis
from django.conf import settings
from django.db import transaction

from exam_platform.redis import redis_client
from monitoring.messages import CodedError, Msg
from plans.services.lifecycle import examinee_submit

from ..keys import answer_cache_key
from ..redis_scripts import COMMIT_MARK, script
from ..selectors import ExamineeContext
from .flush import answer_final_rows_upsert
from .recovery import answer_recover


def answer_sheet_submit(*, context: ExamineeContext, now: datetime) -> dict[str, Any]:
    """Submit the examinee's sheet; returns the `submit.result` message. CodedError when it is not open."""
    refusal = context.write_refusal(now=now)
    if refusal is not None:
        raise CodedError(refusal)
    cache_key = answer_cache_key(exam_id=context.plan_id, test_code=context.test_code, user_id=context.examinee_id)
    client = redis_client()
    try:
        client.hset(cache_key, "st", "SUBMITTED")
    except redis.RedisError as exc:
        raise CodedError(Msg.SYSTEM_STORE_UNAVAILABLE, detail=exc.__class__.__name__) from exc
    sheet = answer_recover(context=context, now=now)
    answers = {question_id: entry["value"] for question_id, entry in sheet["answers"].items()}
    try:
        with transaction.atomic():
            examinee_submit(examinee_id=context.examinee_id, actor=f"examinee:{context.examinee_id}", now=now)
            answer_final_rows_upsert(
                examinee_id=context.examinee_id,
                group_id=context.group_id,
                plan_id=context.plan_id,
                answers=answers,
                submitted_at=now,
            )
    except CodedError:
        client.hdel(cache_key, "st")  # the sitting goes on: reopen the sheet
        raise
    # The closed sheet expires like any other once everything in it is committed.
    script(COMMIT_MARK)(keys=[cache_key], args=[settings.ANSWER_CACHE_TTL_SECONDS, 0])
    return {
        "type": "submit.result",
        "status": "SUBMITTED",
        "submittedAt": now.isoformat(),
        "answered": sum(1 for value in answers.values() if value),
        "total": len(context.paper.rules),
    }
