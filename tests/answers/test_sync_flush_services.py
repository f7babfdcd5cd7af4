"""The answer path at the service level: sync into Redis, flush into the database, recover."""

import json
import threading
from datetime import timedelta

import psycopg
import pytest
import redis
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from answers.keys import ANSWER_STREAMS, FLUSH_GROUP, SOLVING_STATS_DUE
from answers.models import AnswerData, AnswerHistory, QuestionMetadata, SolvingStats
from answers.redis_scripts import HASH_DELETE_IF_SAME, script
from answers.selectors import examinee_context_get
from answers.services.flush import (
    SOLVING_STATS_RECOUNT_LOCK,
    QueueEntry,
    answer_queue_ensure,
    answer_queue_flush,
    answer_rows_write,
    solving_stats_refresh,
)
from answers.services.protocol import answer_sync_validate
from answers.services.recovery import answer_recover, answers_recover
from answers.services.sync import answer_sync_apply
from monitoring.messages import CodedError, Msg
from plans.services.lifecycle import examinee_connect
from tests.answers.helpers import stored_answer_state, sync_message

pytestmark = pytest.mark.django_db(transaction=True)


def _apply(examinee, test_code, changes, seq=1):
    message = answer_sync_validate(sync_message(examinee=examinee, test_code=test_code, changes=changes, seq=seq))
    context = examinee_context_get(examinee_id=examinee.pk)
    return answer_sync_apply(context=context, message=message, now=timezone.now())


def test_accepted_changes_are_flushed_into_every_table(redis_conn, examinee, open_exam, questions):
    """An accepted change reaches ANSWER_DATA, ANSWER_HISTORY, QUESTION_METADATA and SOLVING_STATS."""
    # given
    answer_queue_ensure(redis_conn)
    q1 = questions[0]
    result = _apply(examinee, open_exam.test_code_id, {q1.pk: ("2", 1)})
    assert result.accepted == {q1.pk: 1}
    # when
    flushed = answer_queue_flush(consumer="test")
    # then
    assert flushed.committed == 1
    row = AnswerData.objects.get(examinee=examinee, question=q1)
    assert (row.answer_value, row.version, row.exam_id, row.user_id) == ("2", 1, examinee.plan_id, examinee.pk)
    assert list(AnswerHistory.objects.values_list("question_id", "version", "answer_value", "duration")) == [
        (q1.pk, 1, "2", 12)
    ]
    meta = QuestionMetadata.objects.get(examinee=examinee, question=q1)
    assert (meta.total_duration, meta.input_count) == (12, 9)
    stats = SolvingStats.objects.get(examinee=examinee)
    assert (stats.total_questions, stats.answered_questions) == (len(questions), 1)


def test_one_batch_with_several_changes_of_a_question_keeps_the_latest_and_the_largest(
    redis_conn, examinee, open_exam, questions
):
    """Three changes of one question in one batch: ANSWER_DATA holds the highest version, ANSWER_HISTORY
    all three, QUESTION_METADATA the largest counters and the first visit; a later flush of smaller
    counters lowers nothing."""
    # given: three saves of q1, a second apart, with behaviour that goes up and down
    answer_queue_ensure(redis_conn)
    q1 = questions[0].pk
    context = examinee_context_get(examinee_id=examinee.pk)
    first = timezone.now() - timedelta(seconds=10)
    for version, (focus, keystrokes, clicks) in enumerate([(5, 4, 1), (30, 2, 6), (10, 9, 3)], start=1):
        changes = {q1: (str(version), version)}
        message = sync_message(examinee=examinee, test_code=open_exam.test_code_id, changes=changes, seq=version)
        message["metadata"]["behavior"].update(focusTime=focus, keystrokes=keystrokes, clicks=clicks, visits=version)
        message = answer_sync_validate(message)
        answer_sync_apply(context=context, message=message, now=first + timedelta(seconds=version))
    # when: one flush, one batch
    flushed = answer_queue_flush(consumer="test")
    # then
    assert (flushed.batches, flushed.committed) == (1, 3)
    assert AnswerData.objects.values_list("answer_value", "version").get() == ("3", 3)
    assert list(AnswerHistory.objects.order_by("version").values_list("version", "duration")) == [
        (1, 5), (2, 30), (3, 10)
    ]  # fmt: skip
    meta = QuestionMetadata.objects.get()
    assert (meta.visits, meta.total_duration, meta.input_count, meta.click_count) == (3, 30, 9, 6)
    assert (meta.first_visit, meta.last_visit) == (first + timedelta(seconds=1), first + timedelta(seconds=3))
    # and a later save with smaller counters lowers none of them
    message = sync_message(examinee=examinee, test_code=open_exam.test_code_id, changes={q1: ("4", 4)}, seq=4)
    message["metadata"]["behavior"].update(focusTime=1, keystrokes=1, clicks=1, visits=1)
    answer_sync_apply(context=context, message=answer_sync_validate(message), now=first + timedelta(seconds=4))
    answer_queue_flush(consumer="test")
    meta.refresh_from_db()
    assert (meta.visits, meta.total_duration, meta.input_count, meta.click_count) == (3, 30, 9, 6)
    assert (meta.first_visit, meta.last_visit) == (first + timedelta(seconds=1), first + timedelta(seconds=4))
    assert AnswerData.objects.values_list("answer_value", "version").get() == ("4", 4)


def test_versions_only_move_forward(redis_conn, examinee, open_exam, questions):
    """Duplicates are re-acknowledged without a second row; stale and conflicting versions get the server's."""
    # given
    answer_queue_ensure(redis_conn)
    q1 = questions[0].pk
    _apply(examinee, open_exam.test_code_id, {q1: ("1", 3)})
    # when
    duplicate = _apply(examinee, open_exam.test_code_id, {q1: ("1", 3)}, seq=2)
    stale = _apply(examinee, open_exam.test_code_id, {q1: ("4", 2)}, seq=3)
    conflict = _apply(examinee, open_exam.test_code_id, {q1: ("4", 3)}, seq=4)
    answer_queue_flush(consumer="test")
    # then
    assert (duplicate.accepted, duplicate.stale) == ({q1: 3}, {})
    assert (stale.accepted, stale.stale) == ({}, {q1: 3})
    assert (conflict.accepted, conflict.stale) == ({}, {q1: 3})
    assert list(AnswerHistory.objects.values_list("version", "answer_value")) == [(3, "1")]
    assert AnswerData.objects.get().answer_value == "1"


def test_per_question_refusals_keep_the_rest(redis_conn, examinee, open_exam, questions):
    """An unknown question, an invalid choice and an over-long answer are rejected; the good change applies."""
    # given
    answer_queue_ensure(redis_conn)
    good, short = questions[0].pk, "SA1"
    # when
    result = _apply(
        examinee,
        open_exam.test_code_id,
        {good: ("3", 1), "NOPE": ("x", 1), questions[1].pk: ("9", 1), short: ("가" * 21, 1)},
    )
    # then
    assert result.accepted == {good: 1}
    assert result.rejected == {
        "NOPE": Msg.VALIDATION_UNKNOWN_QUESTION.code,
        questions[1].pk: Msg.VALIDATION_INVALID_CHOICE.code,
        short: Msg.VALIDATION_VALUE_TOO_LONG.code,
    }


def test_another_examinees_user_id_is_forbidden_and_nothing_stored(
    redis_conn, examinee, make_examinees, open_exam, questions
):
    """A message naming another examinee is refused whole; the cache and queue stay empty."""
    # given
    me, (other,) = examinee, make_examinees(1, prefix="OTHER")
    message = answer_sync_validate(
        sync_message(examinee=other, test_code=open_exam.test_code_id, changes={questions[0].pk: ("1", 1)})
    )
    # when
    with pytest.raises(CodedError) as refused:
        answer_sync_apply(context=examinee_context_get(examinee_id=me.pk), message=message, now=timezone.now())
    # then
    assert refused.value.code == Msg.AUTH_FORBIDDEN.code
    assert stored_answer_state(redis_conn) == {}


def test_recover_reads_cache_then_database(redis_conn, examinee, open_exam, questions):
    """Recovery answers from the cache; after the cache key is deleted, from the database, warming the cache."""
    # given
    answer_queue_ensure(redis_conn)
    q1 = questions[0].pk
    _apply(examinee, open_exam.test_code_id, {q1: ("2", 5)})
    answer_queue_flush(consumer="test")
    context = examinee_context_get(examinee_id=examinee.pk)
    # when
    from_cache = answer_recover(context=context, now=timezone.now())
    redis_conn.delete(f"exam:{examinee.plan_id}:test:{open_exam.test_code_id}:user:{examinee.pk}")
    from_db = answer_recover(context=context, now=timezone.now())
    again = answer_recover(context=context, now=timezone.now())
    # then
    assert from_cache["source"] == "cache"
    assert from_cache["answers"][q1]["value"] == "2"
    assert from_cache["committed"] == {q1: 5}
    assert from_db["source"] == "database"
    assert (from_db["answers"][q1]["value"], from_db["answers"][q1]["version"]) == ("2", 5)
    assert again["source"] == "cache"
    assert len(from_db["questions"]) == len(questions)


def test_recovering_several_together_matches_one_by_one_in_two_queries(
    redis_conn, examinee, make_examinees, open_exam, questions, django_assert_num_queries
):
    """answers_recover of a herd gives each examinee what answer_recover gives alone (cache, database,
    partial, nothing; the lost cache warmed), with one query per table whatever their number."""
    # given: `cached` only in Redis, `lost` only in the database, `partial` in both, `blank` nowhere
    answer_queue_ensure(redis_conn)
    cached, (lost, partial, blank) = examinee, make_examinees(3, prefix="RC")
    q1, q2 = questions[0].pk, questions[1].pk
    for person in (lost, partial):
        examinee_connect(examinee_id=person.pk)
        _apply(person, open_exam.test_code_id, {q1: ("1", 3)})
    answer_queue_flush(consumer="test")
    _apply(partial, open_exam.test_code_id, {q2: ("4", 1)})

    def caches_lose():  # lost's whole hash, partial's flushed q1
        redis_conn.delete(f"exam:{lost.plan_id}:test:{open_exam.test_code_id}:user:{lost.pk}")
        key = f"exam:{partial.plan_id}:test:{open_exam.test_code_id}:user:{partial.pk}"
        redis_conn.hdel(key, f"a:{q1}", f"v:{q1}", f"h:{q1}", f"c:{q1}")

    examinee_connect(examinee_id=cached.pk)
    _apply(cached, open_exam.test_code_id, {q2: ("2", 7)})
    people = [cached, lost, partial, blank]
    contexts = [examinee_context_get(examinee_id=person.pk) for person in people]
    now = timezone.now()
    # when
    caches_lose()
    with django_assert_num_queries(2):
        together = answers_recover(contexts=contexts, now=now)
    warmed = answers_recover(contexts=contexts, now=now)
    caches_lose()
    alone = [answer_recover(context=context, now=now) for context in contexts]
    # then
    assert together == alone
    assert [result["source"] for result in together] == ["cache", "database", "partial", "cache"]
    assert [result["source"] for result in warmed] == ["cache"] * 4
    assert [result["userId"] for result in together] == [person.pk for person in people]
    assert together[1]["answers"][q1]["value"] == "1" and together[2]["answers"][q2]["value"] == "4"
    assert together[3]["answers"] == {}


def test_solving_stats_are_recounted_from_the_flushed_rows(redis_conn, examinee, open_exam, questions):
    """SOLVING_STATS after two batches: a cleared answer is not answered, durations, scrolls and clicks
    are the sums of QUESTION_METADATA, and focus lost keeps its highest count."""
    # given
    answer_queue_ensure(redis_conn)
    q1, q2 = questions[0].pk, questions[1].pk
    behavior = {"focusTime": 7, "editCount": 1, "keystrokes": 3, "clicks": 4, "scrolls": 2, "visits": 1}
    context = examinee_context_get(examinee_id=examinee.pk)
    for seq, changes, focus_lost in ((1, {q1: ("2", 1), q2: ("x", 1)}, 3), (2, {q2: ("", 2)}, 1)):
        metadata = {"device": {"type": "PC"}, "behavior": {**behavior, "focusLost": focus_lost}}
        message = sync_message(examinee=examinee, test_code=open_exam.test_code_id, changes=changes, seq=seq,
                               metadata=metadata)  # fmt: skip
        answer_sync_apply(context=context, message=answer_sync_validate(message), now=timezone.now())
        # when
        answer_queue_flush(consumer="test")
    # then
    sums = QuestionMetadata.objects.filter(examinee=examinee).aggregate(
        total=Sum("total_duration"), effective=Sum("effective_duration"), scrolls=Sum("scroll_count"),
        clicks=Sum("click_count"),
    )  # fmt: skip
    stats = SolvingStats.objects.get(examinee=examinee)
    assert sums["total"] > 0 and sums["clicks"] > 0
    assert (
        stats.total_questions, stats.answered_questions, stats.total_duration, stats.effective_duration,
        stats.page_scrolls, stats.total_clicks, stats.focus_lost_count,
    ) == (len(questions), 1, sums["total"], sums["effective"], sums["scrolls"], sums["clicks"], 3)  # fmt: skip


def test_the_sheet_keeps_only_the_latest_navigation_moves(redis_conn, examinee, open_exam, questions):
    """The cache's navigation is bounded (NAVIGATION_KEEP): the newest moves stay, in order, the oldest go."""
    # given
    from answers.keys import NAVIGATION_KEEP

    answer_queue_ensure(redis_conn)
    q1 = questions[0].pk
    moves = [{"from": f"Q{i}", "to": f"Q{i + 1}", "timestamp": timezone.now().isoformat()} for i in range(45)]
    # when: three saves of 15 moves each
    for seq in range(3):
        message = sync_message(
            examinee=examinee, test_code=open_exam.test_code_id, changes={q1: ("1", seq + 1)}, seq=seq + 1
        )
        message["metadata"]["behavior"]["navigation"] = moves[seq * 15 : seq * 15 + 15]
        context = examinee_context_get(examinee_id=examinee.pk)
        answer_sync_apply(context=context, message=answer_sync_validate(message), now=timezone.now())
    recovered = answer_recover(context=examinee_context_get(examinee_id=examinee.pk), now=timezone.now())
    # then
    assert 0 < NAVIGATION_KEEP < len(moves)
    assert [move["from"] for move in recovered["navigation"]] == [move["from"] for move in moves[-NAVIGATION_KEEP:]]


def test_the_early_flush_bell_rings_once_per_interval():
    """The rule on its own: the first call rings, calls within `every` seconds do not, the next one does."""
    from answers.services.sync import EarlyFlushBell

    now = [100.0]
    bell = EarlyFlushBell(every=1.0, clock=lambda: now[0])
    rung = [bell.due()]
    now[0] = 100.5
    rung.append(bell.due())
    now[0] = 101.0
    rung.append(bell.due())
    rung.append(bell.due())
    assert rung == [True, False, True, False]


def test_the_commit_mark_covers_every_hash_of_the_batch(redis_conn, examinee, another_examinee, open_exam, questions):
    """One script call marks the batch's hashes: a hash whose accepted versions are all committed gets
    the hot-window TTL; one that holds a newer accepted version, still queued, keeps no TTL."""
    # given: two examinees' saves, and a newer one of the second that the flush's batch leaves queued
    answer_queue_ensure(redis_conn)
    code = open_exam.test_code_id
    q1, q2 = questions[0].pk, questions[1].pk
    _apply(examinee, code, {q1: ("1", 1), q2: ("2", 1)})
    _apply(another_examinee, code, {q1: ("3", 1)})
    _apply(another_examinee, code, {q1: ("4", 2)}, seq=2)
    # when
    flushed = answer_queue_flush(consumer="test", batch_size=2, max_batches=1)
    # then
    assert flushed.committed == 2

    def cache(person) -> tuple[dict, int]:
        key = f"exam:{person.plan_id}:test:{code}:user:{person.pk}"
        fields = {k.decode(): v.decode() for k, v in redis_conn.hgetall(key).items() if k.startswith(b"c:")}
        return fields, redis_conn.ttl(key)

    first, first_ttl = cache(examinee)
    second, second_ttl = cache(another_examinee)
    assert first == {f"c:{q1}": "1", f"c:{q2}": "1"}
    assert first_ttl > 0
    assert second == {f"c:{q1}": "1"}
    assert second_ttl == -1  # version 2 is not in the database yet: the hash must not expire


def test_a_flush_recounts_the_stats_left_due_by_one_that_died(redis_conn, examinee, open_exam, questions):
    """An examinee marked due (by a flush killed after its commit, before its recount) is recounted by
    the next flush, even with an empty queue, and then leaves the due hash."""
    # given: the answers committed by a flush whose recount never ran
    answer_queue_ensure(redis_conn)
    q1 = questions[0].pk
    _apply(examinee, open_exam.test_code_id, {q1: ("2", 1)})
    answer_queue_flush(consumer="test")
    SolvingStats.objects.all().delete()
    redis_conn.hset(
        SOLVING_STATS_DUE, examinee.pk, json.dumps([examinee.group_id, examinee.plan_id, examinee.plan_id,
                                                    examinee.pk, 2, "stream/1-0"]),
    )  # fmt: skip
    # when
    flushed = answer_queue_flush(consumer="test")
    # then
    assert (flushed.read, flushed.stats_recounted) == (0, 1)
    stats = SolvingStats.objects.get(examinee=examinee)
    assert (stats.answered_questions, stats.focus_lost_count) == (1, 2)
    assert redis_conn.hlen(SOLVING_STATS_DUE) == 0


def test_one_recount_at_a_time(redis_conn, examinee, open_exam, questions):
    """While another process holds the recount lock, a refresh recounts nothing and the examinee stays
    due; once the lock is free the next refresh takes it."""
    # given: a save flushed, and the lock held by another session
    answer_queue_ensure(redis_conn)
    _apply(examinee, open_exam.test_code_id, {questions[0].pk: ("2", 1)})
    settings = connection.settings_dict
    dsn = f"host={settings['HOST']} port={settings['PORT'] or 5432} user={settings['USER']} dbname={settings['NAME']}"
    with psycopg.connect(dsn, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [SOLVING_STATS_RECOUNT_LOCK])
        # when
        flushed = answer_queue_flush(consumer="test")
        # then
        assert (flushed.committed, flushed.stats_recounted) == (1, 0)
        assert redis_conn.hexists(SOLVING_STATS_DUE, examinee.pk)
        assert not SolvingStats.objects.filter(examinee=examinee).exists()
        other.execute("SELECT pg_advisory_unlock(%s)", [SOLVING_STATS_RECOUNT_LOCK])
    assert solving_stats_refresh(redis_conn) == 1
    assert SolvingStats.objects.get(examinee=examinee).answered_questions == 1
    assert redis_conn.hlen(SOLVING_STATS_DUE) == 0


def test_a_due_mark_replaced_after_it_was_read_stays(redis_conn):
    """The due hash loses a field only while it still holds the value that was read: a newer commit's
    mark asks for another recount."""
    # given
    redis_conn.hset(SOLVING_STATS_DUE, mapping={"EX1": "old-1", "EX2": "new-2"})
    # when: deleting what a recount read, EX2 having been marked again since
    removed = script(HASH_DELETE_IF_SAME)(keys=[SOLVING_STATS_DUE], args=["EX1", "old-1", "EX2", "old-2"])
    # then
    assert removed == 1
    assert redis_conn.hgetall(SOLVING_STATS_DUE) == {b"EX2": b"new-2"}


def test_an_unreadable_due_mark_is_dropped_without_blocking_the_others(redis_conn, examinee, open_exam, questions):
    """A due mark that is not what the flush writes is dropped with a warning; the others are recounted."""
    # given
    answer_queue_ensure(redis_conn)
    _apply(examinee, open_exam.test_code_id, {questions[0].pk: ("2", 1)})
    answer_queue_flush(consumer="test")
    SolvingStats.objects.all().delete()
    redis_conn.hset(
        SOLVING_STATS_DUE,
        mapping={
            "EX-BROKEN": "not json",
            examinee.pk: json.dumps([examinee.group_id, examinee.plan_id, examinee.plan_id, examinee.pk, 0, "s/1-0"]),
        },
    )
    # when
    recounted = solving_stats_refresh(redis_conn)
    # then
    assert recounted == 1
    assert SolvingStats.objects.get(examinee=examinee).answered_questions == 1
    assert redis_conn.hlen(SOLVING_STATS_DUE) == 0


def _pending(redis_conn) -> int:
    return sum(int(redis_conn.xpending(stream, FLUSH_GROUP)["pending"]) for stream in ANSWER_STREAMS)


def test_a_flush_of_many_batches_commits_and_acknowledges_every_one(
    redis_conn, examinee, another_examinee, open_exam, questions
):
    """Batches are read ahead and acknowledged behind the writing: when the flush returns, every batch
    is in the database, acknowledged, and marked committed in the cache, in order."""
    # given: twelve saves, three versions of each of two questions per examinee
    answer_queue_ensure(redis_conn)
    code = open_exam.test_code_id
    q1, q2 = questions[0].pk, questions[1].pk
    for version in (1, 2, 3):
        for person in (examinee, another_examinee):
            _apply(person, code, {q1: (str(version), version)}, seq=version * 2)
            _apply(person, code, {q2: (str(version + 1), version)}, seq=version * 2 + 1)
    # when: one save a batch
    flushed = answer_queue_flush(consumer="test", batch_size=1, max_batches=50)
    # then
    assert (flushed.read, flushed.batches, flushed.committed) == (12, 12, 12)
    assert _pending(redis_conn) == 0
    for person in (examinee, another_examinee):
        rows = AnswerData.objects.filter(examinee=person).values_list("question_id", "answer_value", "version")
        assert sorted(rows) == sorted([(q1, "3", 3), (q2, "4", 3)])
        key = f"exam:{person.plan_id}:test:{code}:user:{person.pk}"
        assert redis_conn.hmget(key, f"c:{q1}", f"c:{q2}") == [b"3", b"3"]
        assert redis_conn.ttl(key) > 0
    assert AnswerHistory.objects.count() == 12


def test_an_acknowledgement_that_fails_fails_the_flush_and_loses_nothing(
    redis_conn, examinee, another_examinee, open_exam, questions
):
    """A Redis error while acknowledging a committed batch comes out of the flush; the batches written
    meanwhile are acknowledged or stay pending, and the next flush leaves every save in the database."""
    # given: a save of each examinee, and the first examinee's cache hash replaced by a string
    answer_queue_ensure(redis_conn)
    code = open_exam.test_code_id
    q1 = questions[0].pk
    _apply(examinee, code, {q1: ("1", 1)})
    for version in (1, 2, 3):
        _apply(another_examinee, code, {q1: (str(version), version)}, seq=version)
    broken = f"exam:{examinee.plan_id}:test:{code}:user:{examinee.pk}"
    redis_conn.delete(broken)
    redis_conn.set(broken, "not a hash")
    # when
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        answer_queue_flush(consumer="test", batch_size=1, max_batches=50)
    redis_conn.delete(broken)
    answer_queue_flush(consumer="test", batch_size=1, max_batches=50)
    # then
    assert _pending(redis_conn) == 0
    rows = AnswerData.objects.values_list("examinee_id", "answer_value", "version")
    assert sorted(rows) == sorted([(examinee.pk, "1", 1), (another_examinee.pk, "3", 3)])


def test_two_flushes_writing_the_same_rows_at_once_do_not_deadlock(make_examinees, open_exam, questions):
    """The worker's two pool processes may flush at once, with versions of the same answers in both
    batches and in any order: rows are locked in key order, so one transaction waits for the other
    instead of both waiting for each other (PostgreSQL would abort one as a deadlock)."""
    # given: 1,500 answers, in one order at version 1 and in the reverse order at version 2
    people = make_examinees(150, prefix="DL")
    received = timezone.now().isoformat()

    def entry(person, question, version: int) -> QueueEntry:
        header = {"received": received, "test": open_exam.test_code_id, "examinee": person.pk, "user": person.pk,
                  "group": person.group_id, "plan": person.plan_id, "exam": person.plan_id}  # fmt: skip
        return QueueEntry(stream="s", entry_id=f"{version}-0", header=header,
                          answers={question.pk: {"value": "1", "version": version}})  # fmt: skip

    keys = [(person, question) for person in people for question in questions[:10]]
    batches = [[entry(p, q, 1) for p, q in keys], [entry(p, q, 2) for p, q in reversed(keys)]]
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def write(batch: list[QueueEntry]) -> None:
        try:
            with transaction.atomic():
                barrier.wait()
                answer_rows_write(batch)
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)
        finally:
            connection.close()

    # when: both transactions at once
    threads = [threading.Thread(target=write, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    # then
    assert failures == []
    assert AnswerData.objects.filter(version=2).count() == len(keys)
    assert AnswerHistory.objects.count() == 2 * len(keys)
