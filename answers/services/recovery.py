"""Recovering an examinee's sheet (seed 000, 2 "데이터 복구 흐름", 3.2 and 5.2).

The latest data comes from the hot cache; where the cache misses or was lost it comes from the
database (ANSWER_DATA), and the cache is warmed again; where both hold part of it, the union
by version is returned and reported as `partial`. When the primary Redis does not answer, the
read replica is asked (복제본 조회); when neither answers, the database alone (DB 직접 조회).
An earlier version comes from ANSWER_HISTORY (이전 버전 조회).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from django.conf import settings

from exam_platform.redis import redis_client, redis_replica_client

from ..keys import answer_cache_key
from ..models import AnswerHistory
from ..redis_scripts import WARM_FROM_DATABASE, script
from ..selectors import ExamineeContext, answer_data_list, question_metadata_list


@dataclass
class CacheRead:
    fields: dict[str, str]
    origin: str  # "primary", "replica" or "none"


def _decode_fields(raw: dict) -> dict[str, str]:
    return {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v) for k, v in raw.items()
    }


def _cache_read(cache_key: str) -> CacheRead:
    try:
        return CacheRead(_decode_fields(redis_client().hgetall(cache_key)), "primary")
    except redis.RedisError:
        replica = redis_replica_client()
        if replica is not None:
            try:
                return CacheRead(_decode_fields(replica.hgetall(cache_key)), "replica")
            except redis.RedisError:
                pass
    return CacheRead({}, "none")


def answer_recover(*, context: ExamineeContext, now: datetime) -> dict[str, Any]:
    """The `recover.result` of the examinee's current sheet (structure 4.2 plus committed versions).

    Returns answers {q: {value, version, updated, behavior, committedVersion}}, `committed`
    {q: version in ANSWER_DATA}, metadata, navigation, the stage, its testCode, its questions,
    and the source: "cache", "database" or "partial".
    """
    paper = context.paper
    question_ids = list(paper.rules)
    cache_key = answer_cache_key(exam_id=context.plan_id, test_code=context.test_code, user_id=context.examinee_id)
    cache = _cache_read(cache_key)
    stored = {
        row.question_id: row for row in answer_data_list(examinee_id=context.examinee_id, question_ids=question_ids)
    }
    behaviors = {
        row.question_id: row
        for row in question_metadata_list(examinee_id=context.examinee_id, question_ids=question_ids)
    }
    answers: dict[str, dict[str, Any]] = {}
    cache_has = cache_lacks = False
    for question_id in question_ids:
        cached_raw = cache.fields.get(f"a:{question_id}")
        cached = json.loads(cached_raw) if cached_raw else None
        row = stored.get(question_id)
        if cached is not None:
            cache_has = True
        if row is not None and (cached is None or int(cached["version"]) < row.version):
            cache_lacks = True
            meta = behaviors.get(question_id)
            cached = {
                "value": row.answer_value,
                "version": row.version,
                "updated": row.last_modified.isoformat(),
                "behavior": {
                    "focusTime": meta.total_duration if meta else 0,
                    "keystrokes": meta.input_count if meta else 0,
                    "clicks": meta.click_count if meta else 0,
                    "scrolls": meta.scroll_count if meta else 0,
                    "visits": meta.visits if meta else 0,
                    "editCount": 0,
                },
            }
        if cached is not None:
            cached.pop("received", None)
            cached["committedVersion"] = row.version if row is not None else 0
            answers[question_id] = cached
    if cache_lacks and cache.origin == "primary":
        _cache_warm(cache_key, stored=stored, answers=answers)
    if not cache_lacks:
        source = "cache"
    elif cache_has:
        source = "partial"
    else:
        source = "database"
    meta_raw = cache.fields.get("meta")
    metadata = json.loads(meta_raw) if meta_raw else {"lastSync": None, "status": "", "device": {}}
    metadata["version"] = int(cache.fields.get("mv", 0) or 0)
    return {
        "type": "recover.result",
        "source": source,
        "cacheOrigin": cache.origin,
        "examId": context.plan_id,
        "userId": context.examinee_id,
        "stageId": context.stage_id,
        "testCode": context.test_code,
        "answers": answers,
        "committed": {q: row.version for q, row in stored.items()},
        "metadata": metadata,
        "navigation": json.loads(cache.fields.get("nav", "[]")),
        "questions": paper.questions,
        "serverTime": now.isoformat(),
    }


def _cache_warm(cache_key: str, *, stored: dict, answers: dict[str, dict[str, Any]]) -> None:
    args: list[Any] = [settings.ANSWER_CACHE_TTL_SECONDS]
    for question_id, row in stored.items():
        entry = {k: v for k, v in answers[question_id].items() if k != "committedVersion"}
        if int(entry["version"]) != row.version:
            entry = {"value": row.answer_value, "version": row.version, "updated": row.last_modified.isoformat()}
        args += [question_id, row.version, row.answer_value, json.dumps(entry, ensure_ascii=False)]
    try:
        script(WARM_FROM_DATABASE)(keys=[cache_key], args=args)
    except redis.RedisError:
        pass  # the answer came from the database; the next recovery warms the cache


def answer_history_as_of(*, examinee_id: str, at: datetime) -> dict[str, AnswerHistory]:
    """Each question's answer as it stood at `at` (이전 버전 조회): the latest history row not after it."""
    latest: dict[str, AnswerHistory] = {}
    for row in AnswerHistory.objects.filter(examinee_id=examinee_id, timestamp__lte=at).order_by(
        "question_id", "version"
    ):
        latest[row.question_id] = row
    return latest
