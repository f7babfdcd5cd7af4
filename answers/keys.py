"""Redis key names of the answer path, in one place (seed 000, 4.2 캐시 데이터 구조).

The hot cache of one examinee's sheet for one paper is a Redis hash at
`exam:{examId}:test:{testCode}:user:{userId}` whose fields hold the 4.2 structure flattened so
that a Lua script can check and move one question's version without decoding the whole sheet:

    v:{quizCode}  the highest accepted version            (answers.quizCode.version)
    a:{quizCode}  JSON {value, version, updated, behavior} (answers.quizCode)
    h:{quizCode}  SHA-1 of the value, to tell a duplicate from a conflicting write
    c:{quizCode}  the highest version committed to ANSWER_DATA
    meta          JSON {lastSync, status, device}          (metadata; metadata.version is `mv`)
    mv            the sheet's version: how many accepted changes it has seen
    nav           JSON list of the last NAVIGATION_KEEP navigation moves (navigation)
    st            the sheet's state: empty while open, SUBMITTED once submitted

Streams are the durable answer queue (at-least-once, consumer group FLUSH_GROUP); `high` holds
final submits and saves at a stage deadline, `normal` the routine saves. The log queue is separate,
as in the seed (monitoring.services.client_logs); the media queue is not built yet.
"""

ANSWER_STREAM_HIGH = "stream:answers:high"
ANSWER_STREAM_NORMAL = "stream:answers:normal"
ANSWER_STREAMS = (ANSWER_STREAM_HIGH, ANSWER_STREAM_NORMAL)
ANSWER_DEAD_LETTER_STREAM = "stream:answers:dead"
FLUSH_GROUP = "flushers"
# The examinees whose SOLVING_STATS are due for a recount after a flush committed their answers:
# a hash {examinee: JSON [group, plan, exam, user, focus lost, stamp]}; a field leaves only after its
# recount committed and only if it still holds the stamp that was read (answers.services.flush).
SOLVING_STATS_DUE = "answers:stats:due"
# The sheet's hash keeps only the latest moves: recovery shows where the examinee was, and every
# move also travels in its save's stream entry. At one move per ~20 s, 100 moves (~10 KB a sheet,
# ~100 MB of Redis at 10,000 examinees) took half an hour to fill; 20 fill within minutes, so the
# cache reaches its bound early in an exam (docs/benchmarks.md, soak).
NAVIGATION_KEEP = 20


def answer_cache_key(*, exam_id: str, test_code: str, user_id: str) -> str:
    """The hot-cache key of one examinee's sheet for one paper."""
    return f"exam:{exam_id}:test:{test_code}:user:{user_id}"


def answer_stream_for(priority: str) -> str:
    return ANSWER_STREAM_HIGH if priority == "high" else ANSWER_STREAM_NORMAL


def answer_committed_channel() -> str:
    """The pub/sub channel of the flush's `answer.committed` doorbells, one message per batch
    (exam_platform.fanout); named per Redis database, as pub/sub is server-wide."""
    from exam_platform.redis import redis_database_number

    return f"answer:committed:db{redis_database_number()}"


def examinee_channel_group(examinee_id: str) -> str:
    """The channel-layer group of one examinee's open pages (a doorbell only)."""
    # Imported here: this module (and answers.redis_scripts) must load without Django's apps
    # (bench/run.py loads the Lua scripts for redis-benchmark).
    from plans.services.lifecycle import exam_examinee_channel_name

    return exam_examinee_channel_name(examinee_id)
