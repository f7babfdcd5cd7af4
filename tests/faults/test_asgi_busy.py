"""Overload on the real server: a daphne whose admission gate is full refuses a socket with SYS-005, a
retryAfter and the close code 4503, and lets the next one in once the examinee ahead is ready."""

import json

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from exam_platform.embedded import free_port
from monitoring.messages import Msg
from plans.services.access import examinee_access_codes_issue
from proctoring.models import SocketSession
from tests.faults.harness import daphne, exam_socket_open, exam_socket_request, examinee_sign_in, process_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_full_gate_refuses_with_sys_005_and_4503_over_daphne(private_redis, tmp_path, examinee, open_exam, questions):
    """One place, half a second of allowed wait: the second socket is told when to come back and closed
    with 4503 (not 1011: the close code must be one daphne's WebSocket layer sends); after the first
    socket's recover a third is let in and recovers; the refused socket left no SOCKET_SESSION row."""
    # given
    (_examinee, code), = examinee_access_codes_issue(examinee_ids=[examinee.pk])  # fmt: skip
    port = free_port()
    env = process_env(redis_url=private_redis.url, EXAM_ADMISSION_IN_FLIGHT="1", EXAM_ADMISSION_MAX_WAIT_SECONDS="0.5")
    server = daphne(port, env, tmp_path, "daphne-busy")
    try:
        token = examinee_sign_in(port, examinee, code)
        first = exam_socket_open(port, token)
        # when
        refused = connect(f"ws://127.0.0.1:{port}/ws/exam/?token={token}", origin=f"http://127.0.0.1:{port}")
        busy = json.loads(refused.recv(timeout=10))
        with pytest.raises(ConnectionClosed) as closed:
            refused.recv(timeout=10)
        first_recovered = exam_socket_request(first, {"type": "recover"})
        third = exam_socket_open(port, token)
        third_recovered = exam_socket_request(third, {"type": "recover"})
        # then
        assert (busy["code"], busy["name"]) == (Msg.SYSTEM_BUSY.code, "SYSTEM_BUSY")
        assert 0 < busy["retryAfter"] <= 60
        assert closed.value.rcvd.code == 4503  # daphne sends the code without its reason
        assert first_recovered["type"] == third_recovered["type"] == "recover.result"
        assert SocketSession.objects.filter(user_id=examinee.pk).count() == 2
        first.close()
        third.close()
    finally:
        server.stop()
    assert "Exception inside application" not in server.log_path.read_text()
