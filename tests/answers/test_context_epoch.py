"""The socket keeps the examinee's context in memory; the group's state epoch (checked inside the
save's Lua call) makes sure no save is judged on an old state, even when the doorbell is lost."""

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from answers.selectors import examinee_context_get
from answers.services.protocol import answer_sync_validate
from answers.services.sync import ContextOutdated, answer_sync_apply_async
from monitoring.messages import Msg
from plans.services.lifecycle import (
    exam_examinee_epoch_key,
    exam_group_channel_name,
    exam_group_epoch_key,
    examinee_time_extend,
    group_pause,
    group_resume,
)
from tests.answers.helpers import exam_socket_connect, stored_answer_state, sync_message

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _lose_doorbells(redis_conn, group):
    """Empty the group's channel-layer membership (same Redis): the next doorbells reach nobody."""
    redis_conn.delete(get_channel_layer()._group_key(exam_group_channel_name(group.pk)))


async def test_a_lifecycle_change_raises_the_groups_epoch(redis_conn, examinee, open_exam, group):
    """Every committed state change raises the epoch of the group (after commit)."""
    # given
    before = int(redis_conn.get(exam_group_epoch_key(group.pk)) or 0)
    # when
    await database_sync_to_async(group_pause)(group=group, actor="test")
    await database_sync_to_async(group_resume)(group=group, actor="test")
    # then
    assert int(redis_conn.get(exam_group_epoch_key(group.pk))) == before + 2


async def test_one_examinees_change_raises_only_their_epoch(redis_conn, examinee, open_exam, group):
    """Extra time for one examinee raises that examinee's epoch, not the group's (10,000 examinees
    beginning at once must not make their whole group read its context again)."""
    # given
    group_before = int(redis_conn.get(exam_group_epoch_key(group.pk)) or 0)
    examinee_before = int(redis_conn.get(exam_examinee_epoch_key(examinee.pk)) or 0)
    # when
    await database_sync_to_async(examinee_time_extend)(examinee_id=examinee.pk, seconds=60, actor="test", reason="t")
    # then
    assert int(redis_conn.get(exam_group_epoch_key(group.pk)) or 0) == group_before
    assert int(redis_conn.get(exam_examinee_epoch_key(examinee.pk))) == examinee_before + 1


async def test_a_save_on_an_outdated_context_writes_nothing(redis_conn, examinee, open_exam, questions, group):
    """SYNC_APPLY refuses a context read before the epoch moved, and stores nothing."""
    # given
    context = await database_sync_to_async(examinee_context_get)(examinee_id=examinee.pk)
    context.epoch = "0|0"
    redis_conn.set(exam_group_epoch_key(group.pk), "1")
    message = answer_sync_validate(
        sync_message(examinee=examinee, test_code=open_exam.test_code_id, changes={questions[0].pk: ("2", 1)})
    )
    # when
    with pytest.raises(ContextOutdated):
        await answer_sync_apply_async(context=context, message=message, now=timezone.now())
    # then
    assert stored_answer_state(redis_conn) == {}


async def test_a_lost_pause_doorbell_still_refuses_the_next_save(
    redis_conn, examinee, open_exam, questions, group, token
):
    """The socket misses the pause's doorbell; its next save is refused as paused, nothing is stored,
    and after the resume (doorbell lost too) the same save is accepted."""
    # given
    communicator = await exam_socket_connect(token)
    await communicator.send_json_to({"type": "heartbeat", "seq": 1})
    assert (await communicator.receive_json_from(timeout=5))["paused"] is False
    _lose_doorbells(redis_conn, group)
    # when
    await database_sync_to_async(group_pause)(group=group, actor="test")
    save = sync_message(examinee=examinee, test_code=open_exam.test_code_id, changes={questions[0].pk: ("2", 1)}, seq=2)
    await communicator.send_json_to(save)
    refused = await communicator.receive_json_from(timeout=5)
    stored_while_paused = stored_answer_state(redis_conn)
    await database_sync_to_async(group_resume)(group=group, actor="test")
    await communicator.send_json_to({**save, "seq": 3})
    accepted = await communicator.receive_json_from(timeout=5)
    # then
    assert (refused["type"], refused["code"]) == ("error", Msg.EXAM_PAUSED.code)
    assert stored_while_paused == {}
    assert accepted.get("accepted") == {questions[0].pk: 1}, accepted
    await communicator.disconnect()


async def test_a_heartbeat_after_a_lost_doorbell_reports_the_new_state(redis_conn, examinee, open_exam, group, token):
    """The page learns a pause it missed from its next heartbeat."""
    # given
    communicator = await exam_socket_connect(token)
    _lose_doorbells(redis_conn, group)
    # when
    await database_sync_to_async(group_pause)(group=group, actor="test")
    await communicator.send_json_to({"type": "heartbeat", "seq": 1})
    reply = await communicator.receive_json_from(timeout=5)
    # then
    assert reply["paused"] is True
    await communicator.disconnect()
