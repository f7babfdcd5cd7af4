"""The ASGI server killed mid-exam: the page reconnects, recovers what was acknowledged and resends the rest."""

import json

import pytest

from answers.models import AnswerData, AnswerHistory
from answers.services.flush import answer_queue_ensure, answer_queue_flush
from exam_platform.embedded import free_port
from plans.services.access import examinee_access_codes_issue
from tests.answers.helpers import sync_message
from tests.faults.harness import daphne, exam_socket_open, exam_socket_request, examinee_sign_in, process_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_daphne_killed_then_restarted_loses_nothing(private_redis, tmp_path, examinee, open_exam, questions):
    """Acknowledged versions come back from recover after a SIGKILL; the unacknowledged one is resent and stored."""
    # given
    answer_queue_ensure()
    (_examinee, code), = examinee_access_codes_issue(examinee_ids=[examinee.pk])  # fmt: skip
    port = free_port()
    env = process_env(redis_url=private_redis.url)
    server = daphne(port, env, tmp_path, "daphne-1")
    q1 = questions[0].pk
    journal = {}
    try:
        token = examinee_sign_in(port, examinee, code)
        ws = exam_socket_open(port, token)
        for version in (1, 2, 3):
            journal[version] = sync_message(examinee=examinee, test_code=open_exam.test_code_id,
                                            changes={q1: (str(version), version)}, seq=version)  # fmt: skip
            assert exam_socket_request(ws, journal[version])["accepted"] == {q1: version}
        journal[4] = sync_message(examinee=examinee, test_code=open_exam.test_code_id, changes={q1: ("4", 4)}, seq=4)
        # when: the server dies with the fourth change in flight
        ws.send(json.dumps(journal[4]))
        server.kill()
        server.stop()
        server = daphne(port, env, tmp_path, "daphne-2")
        ws = exam_socket_open(port, token)
        recovered = exam_socket_request(ws, {"type": "recover"})
        server_version = recovered["answers"][q1]["version"]
        resent = [exam_socket_request(ws, journal[v]) for v in sorted(journal) if v > server_version]
        ws.close()
    finally:
        server.stop()
    answer_queue_flush(consumer="after-restart")
    # then
    assert recovered["source"] == "cache"
    assert server_version in (3, 4)
    assert all(reply["type"] == "answer.ack" for reply in resent)
    assert AnswerData.objects.get().version == 4
    assert sorted(AnswerHistory.objects.values_list("version", flat=True)) == [1, 2, 3, 4]
