"""Operator work on answers (seed 000, 5.1 "수동 처리" and 5.2 "이전 버전 조회"): replaying the
reprocess queue and restoring an examinee's sheet to a point in time.

Both go through the normal answer path (the stream and the Lua version check), so the flush,
the history and the pages see them like any other change: a restore is a new, higher version,
never an overwrite of the past.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

import redis
from django.db import transaction
from django.utils import timezone

from exam_platform.redis import redis_client
from monitoring.messages import CodedError, Msg

from ..keys import ANSWER_STREAM_HIGH
from ..models import AnswerDeadLetter
from ..selectors import examinee_context_get
from .protocol import AnswerChange, Behavior, SyncMessage, answers_checksum
from .recovery import answer_history_as_of, answer_recover
from .sync import answer_sync_apply

logger = logging.getLogger(__name__)


@transaction.atomic
def answer_dead_letters_replay(*, dead_letter_ids: list[int], actor: str) -> int:
    """Put reprocess-queue entries back on the answer stream (high priority); returns how many.

    Meant for after the cause was fixed. The flush is idempotent, so replaying an entry twice, or
    one whose versions were committed meanwhile, stores nothing twice and lowers nothing.
    """
    client = redis_client()
    letters = list(
        AnswerDeadLetter.objects.select_for_update()
        .filter(pk__in=dead_letter_ids, replayed_at__isnull=True)
        .order_by("pk")
    )
    now = timezone.now()
    for letter in letters:
        fields = {"m": json.dumps(letter.payload["header"], ensure_ascii=False)}
        for question_id, change in letter.payload["answers"].items():
            fields[f"q:{question_id}"] = json.dumps(change, ensure_ascii=False)
        try:
            client.xadd(ANSWER_STREAM_HIGH, fields)
        except redis.RedisError as exc:
            raise CodedError(Msg.SYSTEM_STORE_UNAVAILABLE, detail=exc.__class__.__name__) from exc
        letter.replayed_at = now
        logger.info("reprocess entry %s of %s replayed by %s", letter.entry_id, letter.examinee_id, actor)
    AnswerDeadLetter.objects.bulk_update(letters, ["replayed_at"])
    return len(letters)


@dataclass(frozen=True)
class RestoreResult:
    """What a restore changed: {question: (old value, restored value, new version)}."""

    changes: dict[str, tuple[str, str, int]]


def answer_sheet_restore(*, examinee_id: str, at: datetime, actor: str, now: datetime | None = None) -> RestoreResult:
    """Bring the examinee's current sheet back to what it was at `at`, as new versions.

    Each question of the current paper whose value differs from its value at `at` (from
    ANSWER_HISTORY; a question not answered by then is cleared) gets the next version with the old
    value. Refused (EXAM_ALREADY_SUBMITTED) once the sheet is submitted.
    """
    now = now or timezone.now()
    context = examinee_context_get(examinee_id=examinee_id)
    if context.exam_status in ("SUBMITTED", "GIVE_UP"):
        raise CodedError(Msg.EXAM_ALREADY_SUBMITTED, detail=examinee_id)
    current = answer_recover(context=context, now=now)["answers"]
    past = answer_history_as_of(examinee_id=examinee_id, at=at)
    changes: list[AnswerChange] = []
    report: dict[str, tuple[str, str, int]] = {}
    for question_id in context.paper.rules:
        now_value = current.get(question_id, {}).get("value", "")
        then_value = past[question_id].answer_value if question_id in past else ""
        if now_value == then_value:
            continue
        version = int(current.get(question_id, {}).get("version", 0)) + 1
        changes.append(
            AnswerChange(question_id=question_id, value=then_value, version=version, updated=now.isoformat())
        )
        report[question_id] = (now_value, then_value, version)
    if not changes:
        return RestoreResult(changes={})
    raw = {c.question_id: {"value": c.value, "version": c.version, "updated": c.updated} for c in changes}
    message = SyncMessage(
        seq=0,
        exam_id=context.plan_id,
        test_code=context.test_code,
        user_id=context.examinee_id,
        timestamp=now.isoformat(),
        answers=tuple(changes),
        device={"type": "", "browser": "", "os": ""},
        behavior=Behavior(),
        status=f"RESTORED_BY:{actor}"[:20],
        checksum=answers_checksum(raw),
        priority="high",
        raw_answers=raw,
    )
    result = answer_sync_apply(context=context, message=message, now=now, check_window=False, all_or_nothing=True)
    if result.stale or result.rejected:
        # A page wrote in between: the script wrote nothing; the operator can try again.
        raise CodedError(Msg.ANSWER_STALE, detail=f"changed meanwhile: {sorted({**result.stale, **result.rejected})}")
    logger.info("sheet of %s restored to %s by %s: %s", examinee_id, at.isoformat(), actor, sorted(report))
    return RestoreResult(changes=report)
