"""Redis faults on the answer path with a private redis-server: a full Redis answers an error, never an ack."""

import time

import pytest
import redis
from django.utils import timezone

from answers.selectors import examinee_context_get
from answers.services.flush import answer_queue_ensure
from answers.services.protocol import answer_sync_validate
from answers.services.recovery import answer_recover
from answers.services.sync import answer_sync_apply
from exam_platform.embedded import RedisProcess, free_port
from exam_platform.redis import redis_client
from monitoring.messages import CodedError, Msg
from tests.answers.helpers import sync_message

pytestmark = pytest.mark.django_db(transaction=True)


def _apply(examinee, stage, changes):
    message = answer_sync_validate(sync_message(examinee=examinee, test_code=stage.test_code_id, changes=changes))
    return answer_sync_apply(context=examinee_context_get(examinee_id=examinee.pk), message=message, now=timezone.now())


def test_a_full_redis_answers_an_error_not_an_ack(private_redis, examinee, open_exam, questions):
    """With maxmemory reached (noeviction) the sync gets SYS-002 and nothing is acknowledged or evicted."""
    # given: our own Redis (never the shared one), already over its limit
    redis_conn = redis_client()
    answer_queue_ensure(redis_conn)
    redis_conn.config_set("maxmemory", int(redis_conn.info("memory")["used_memory"]) // 2)
    # when
    with pytest.raises(CodedError) as refused:
        _apply(examinee, open_exam, {questions[0].pk: ("1", 1)})
    # then
    assert refused.value.code == Msg.SYSTEM_STORE_FULL.code
    assert int(redis_conn.info("stats")["evicted_keys"]) == 0
    assert redis_conn.keys("exam:*") == []


def test_recovery_reads_the_replica_when_the_primary_is_down(private_redis, settings, tmp_path, examinee, open_exam,
                                                             questions):  # fmt: skip
    """Seed 5.2 복제본 조회: with the primary killed, recover answers from the replica's copy."""
    # given: a replica following our private primary, holding one acknowledged answer
    replica = RedisProcess(port=free_port(), data_dir=tmp_path / "replica",
                           extra_args=["--replicaof", "127.0.0.1", str(private_redis.port)]).start()  # fmt: skip
    settings.REDIS_REPLICA_URL = replica.url
    try:
        answer_queue_ensure(redis_client())
        _apply(examinee, open_exam, {questions[0].pk: ("3", 1)})
        replica_client = redis.Redis.from_url(replica.url)
        deadline = time.monotonic() + 20
        while not replica_client.keys("exam:*"):
            assert time.monotonic() < deadline, "the replica did not sync"
            time.sleep(0.1)
        context = examinee_context_get(examinee_id=examinee.pk)
        # when: the primary dies
        private_redis.process.kill()
        private_redis.process.wait(10)
        recovered = answer_recover(context=context, now=timezone.now())
    finally:
        replica.stop()
    # then
    assert (recovered["cacheOrigin"], recovered["source"]) == ("replica", "cache")
    assert recovered["answers"][questions[0].pk]["value"] == "3"
