"""The ASGI server killed mid-exam: the page reconnects, recovers what was acknowledged and resends the rest."""

import json
import time

import httpx
import pytest
from websockets.sync.client import connect

from answers.models import AnswerData, AnswerHistory
from answers.services.flush import answer_queue_ensure, answer_queue_flush
from exam_platform.embedded import free_port
from plans.services.access import examinee_access_codes_issue
from tests.answers.helpers import sync_message
from tests.faults.harness import daphne, process_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _open_socket(port, token):
    deadline = time.monotonic() + 30
    while True:
        try:
            url = f"ws://127.0.0.1:{port}/ws/exam/?token={token}"
            return connect(url, origin=f"http://127.0.0.1:{port}", open_timeout=5)
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.2)


def _request(ws, message):
    ws.send(json.dumps(message))
    return json.loads(ws.recv(timeout=10))


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
        credentials = {"planId": examinee.plan_id, "examineeId": examinee.pk, "accessCode": code}
        login = httpx.post(f"http://127.0.0.1:{port}/api/v1/examinee/login", json=credentials)
        assert login.status_code == 200, login.text
        token = login.json()["token"]
        ws = _open_socket(port, token)
        for version in (1, 2, 3):
            journal[version] = sync_message(examinee=examinee, test_code=open_exam.test_code_id,
                                            changes={q1: (str(version), version)}, seq=version)  # fmt: skip
            assert _request(ws, journal[version])["accepted"] == {q1: version}
        journal[4] = sync_message(examinee=examinee, test_code=open_exam.test_code_id, changes={q1: ("4", 4)}, seq=4)
        # when: the server dies with the fourth change in flight
        ws.send(json.dumps(journal[4]))
        server.kill()
        server.stop()
        server = daphne(port, env, tmp_path, "daphne-2")
        ws = _open_socket(port, token)
        recovered = _request(ws, {"type": "recover"})
        server_version = recovered["answers"][q1]["version"]
        resent = [_request(ws, journal[v]) for v in sorted(journal) if v > server_version]
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
