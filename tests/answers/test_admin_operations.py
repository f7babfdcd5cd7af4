"""The operator's answer tools in the admin: point-in-time restore and reprocess-queue replay."""

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from answers.models import AnswerDeadLetter
from answers.selectors import examinee_context_get
from answers.services.flush import answer_queue_ensure, answer_queue_flush
from answers.services.protocol import answer_sync_validate
from answers.services.sync import answer_sync_apply
from tests.answers.helpers import sync_message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def operator_client(client):
    user = get_user_model().objects.create_superuser("operator", "op@example.com", "pw-123456789")
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_user("viewer", password="pw-123456789", is_staff=True)
    client.force_login(user)
    return client


def test_restore_form_restores_the_sheet(operator_client, redis_conn, examinee, open_exam, questions):
    """Posting the form to a moment before any answer clears the sheet as new versions."""
    # given
    answer_queue_ensure(redis_conn)
    message = answer_sync_validate(
        sync_message(examinee=examinee, test_code=open_exam.test_code_id, changes={questions[0].pk: ("2", 1)})
    )
    answer_sync_apply(context=examinee_context_get(examinee_id=examinee.pk), message=message, now=timezone.now())
    answer_queue_flush(consumer="test")
    # when
    response = operator_client.post(
        "/admin/answers/answerhistory/restore/",
        {"examinee_id": examinee.pk, "restore_to": "2000-01-01T09:00"},
    )
    answer_queue_flush(consumer="test")
    # then
    assert response.status_code == 302
    from answers.models import AnswerData

    assert list(AnswerData.objects.values_list("answer_value", "version")) == [("", 2)]


def test_restore_needs_the_permission(staff_client, examinee, open_exam):
    """A staff user without answers.restore_sheet gets 403."""
    response = staff_client.get("/admin/answers/answerhistory/restore/")
    assert response.status_code == 403


def test_replay_action_puts_entries_back(operator_client, redis_conn, examinee, open_exam):
    """The replay action re-queues the selected reprocess entries once."""
    # given
    letter = AnswerDeadLetter.objects.create(
        stream="stream:answers:normal",
        entry_id="1-0",
        examinee_id=examinee.pk,
        payload={"header": {"examinee": examinee.pk}, "answers": {"Q": {"value": "1", "version": 1}}},
        error="test",
        deliveries=5,
    )
    # when
    response = operator_client.post(
        "/admin/answers/answerdeadletter/", {"action": "replay", "_selected_action": [letter.pk]}, follow=True
    )
    # then
    assert response.status_code == 200
    letter.refresh_from_db()
    assert letter.replayed_at is not None
    assert redis_conn.xlen("stream:answers:high") == 1
