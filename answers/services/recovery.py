"""Recovering an examinee's sheet (seed 000, 2 "데이터 복구 흐름", 3.2 and 5.2).

The latest data comes from the hot cache; where the cache misses or was lost it comes from the
database (ANSWER_DATA), and the cache is warmed again; where both hold part of it, the union
by version is returned and reported as `partial`. When the primary Redis does not answer, the
read replica is asked (복제본 조회); when neither answers, the database alone (DB 직접 조회).
An earlier version comes from ANSWER_HISTORY (이전 버전 조회).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from django.conf import settings

from exam_platform.redis import redis_client, redis_replica_client

from ..keys import answer_cache_key
from ..models import AnswerHistory
from ..redis_scripts import WARM_FROM_DATABASE, script
from ..selectors import ExamineeContext, answer_data_of, question_metadata_of


@dataclass
class CacheRead:
    fields: dict[str, str]
    origin: str  # "primary", "replica" or "none"


def _decode_fields(raw: dict) -> dict[str, str]:
    return {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v) for k, v in raw.items()
    }


def _caches_read(cache_keys: Sequence[str]) -> list[CacheRead]:
    """The cache hashes of `cache_keys` in one round trip, from the primary, else the replica, else none."""
    if not cache_keys:
        return []
    clients = [("primary", redis_client())]
    replica = redis_replica_client()
    if replica is not None:
        clients.append(("replica", replica))
    for origin, client in clients:
        try:
            pipe = client.pipeline(transaction=False)
            for cache_key in cache_keys:
                pipe.hgetall(cache_key)
            return [CacheRead(_decode_fields(raw), origin) for raw in pipe.execute()]
        except redis.RedisError:
            continue
    return [CacheRead({}, "none") for _key in cache_keys]


def answer_recover(*, context: ExamineeContext, now: datetime) -> dict[str, Any]:
    """The `recover.result` of the examinee's current sheet (structure 4.2 plus committed versions).

    Returns answers {q: {value, version, updated, behavior, committedVersion}}, `committed`
    {q: version in ANSWER_DATA}, metadata, navigation, the stage, its testCode, its questions,
    and the source: "cache", "database" or "partial".
    """
    return answers_recover(contexts=[context], now=now)[0]


def answers_recover(*, contexts: Sequence[ExamineeContext], now: datetime) -> list[dict[str, Any]]:
    """`answer_recover` of several examinees together (an exam-start herd's recovers, answers.connects):
    their caches in one Redis round trip, their ANSWER_DATA and QUESTION_METADATA in one query each."""
    cache_keys = [
        answer_cache_key(exam_id=context.plan_id, test_code=context.test_code, user_id=context.examinee_id)
        for context in contexts
    ]
    caches = _caches_read(cache_keys)
    examinee_ids = sorted({context.examinee_id for context in contexts})
    stored_by: dict[str, dict[str, Any]] = {examinee_id: {} for examinee_id in examinee_ids}
    for row in answer_data_of(examinee_ids=examinee_ids):
        stored_by[row.examinee_id][row.question_id] = row
    behaviors_by: dict[str, dict[str, Any]] = {examinee_id: {} for examinee_id in examinee_ids}
    for row in question_metadata_of(examinee_ids=examinee_ids):
        behaviors_by[row.examinee_id][row.question_id] = row
    return [
        _sheet(
            context=context,
            cache_key=cache_key,
            cache=cache,
            stored={q: row for q, row in stored_by[context.examinee_id].items() if q in context.paper.rules},
            behaviors=behaviors_by[context.examinee_id],
            now=now,
        )
        for context, cache_key, cache in zip(contexts, cache_keys, caches, strict=True)
    ]


def _sheet(
    *,
    context: ExamineeContext,
    cache_key: str,
    cache: CacheRead,
    stored: dict[str, Any],
    behaviors: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """One examinee's `recover.result` from their cache hash and database rows (warming the cache if it lacks any)."""
    paper = context.paper
    question_ids = list(paper.rules)
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
