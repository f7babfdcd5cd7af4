"""The answer tables in the admin: visible, searchable by exact ID, never writable."""

import pytest
from django.urls import reverse
from django.utils import timezone

from answers.models import Answer, AnswerData, AnswerDeadLetter, AnswerHistory, QuestionMetadata, SolvingStats
from plans.models import Question


@pytest.fixture
def en_client(admin_client):
    admin_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return admin_client


@pytest.fixture
def answer_rows(make_examinees, stage):
    """One row of every answer table for two examinees and the stage's first question."""
    now = timezone.now()
    question = Question.objects.filter(paper_id=stage.test_code_id).order_by("question_no").first()
    rows = {}
    for examinee in make_examinees(2):
        key = {"examinee": examinee, "group_id": examinee.group_id, "plan_id": examinee.plan_id}
        tracked = {**key, "exam_id": examinee.plan_id, "user_id": examinee.pk}
        rows[examinee.pk] = {
            "answer": Answer.objects.create(**key, question=question, answer_content="2", submit_datetime=now),
            "answerdata": AnswerData.objects.create(
                **tracked,
                question=question,
                answer_type="MULTIPLE_CHOICE",
                answer_value="2",
                last_modified=now,
                version=3,
            ),
            "answerhistory": AnswerHistory.objects.create(
                **tracked, question=question, answer_value="2", timestamp=now, duration=12, version=3
            ),
            "questionmetadata": QuestionMetadata.objects.create(
                **tracked, question=question, visits=2, first_visit=now, last_visit=now
            ),
            "solvingstats": SolvingStats.objects.create(**tracked, total_questions=3, answered_questions=1),
        }
    rows["deadletter"] = AnswerDeadLetter.objects.create(
        stream="answers:0", entry_id="1-0", examinee_id="EX00000", payload={"v": 1}, error="boom", deliveries=5
    )
    return rows


ANSWER_MODELS = ["answer", "answerdata", "answerhistory", "questionmetadata", "solvingstats"]


@pytest.mark.parametrize("model_name", ANSWER_MODELS)
def test_answer_tables_are_view_only(en_client, answer_rows, model_name):
    """Lists and pages open; add, change and delete are refused with 403 and the row is unchanged."""
    # given
    row = answer_rows["EX00000"][model_name]
    before = type(row).objects.filter(pk=row.pk).values().get()

    # when
    listing = en_client.get(reverse(f"admin:answers_{model_name}_changelist"))
    view = en_client.get(reverse(f"admin:answers_{model_name}_change", args=[row.pk]))
    add = en_client.get(reverse(f"admin:answers_{model_name}_add"))
    change = en_client.post(reverse(f"admin:answers_{model_name}_change", args=[row.pk]), {"answer_value": "4"})
    delete = en_client.post(reverse(f"admin:answers_{model_name}_delete", args=[row.pk]), {"post": "yes"})

    # then
    assert (listing.status_code, view.status_code) == (200, 200)
    assert listing.context["cl"].result_count == 2
    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert type(row).objects.filter(pk=row.pk).values().get() == before


@pytest.mark.parametrize("model_name", ANSWER_MODELS)
def test_answer_tables_search_by_exact_examinee_id(en_client, answer_rows, model_name):
    """The search box matches an examinee ID exactly (an index look-up), not a part of it."""
    # given
    url = reverse(f"admin:answers_{model_name}_changelist")

    # when
    exact = en_client.get(url, {"q": "EX00001"})
    partial = en_client.get(url, {"q": "EX0000"})

    # then
    assert [obj.examinee_id for obj in exact.context["cl"].result_list] == ["EX00001"]
    assert list(partial.context["cl"].result_list) == []


def test_answer_data_list_filters_by_group_and_skips_the_full_count(en_client, answer_rows, group):
    """Big tables filter by plan and group and never count the whole table."""
    # given
    from answers.admin import AnswerDataAdmin, AnswerHistoryAdmin

    # when
    response = en_client.get(reverse("admin:answers_answerdata_changelist"), {"group": group.pk})

    # then
    assert response.context["cl"].result_count == 2
    assert AnswerDataAdmin.show_full_result_count is False
    assert AnswerHistoryAdmin.show_full_result_count is False


def test_dead_letter_queue_is_view_only(en_client, answer_rows):
    """The reprocess queue can be read but not edited by hand."""
    # given
    row = answer_rows["deadletter"]

    # when
    listing = en_client.get(reverse("admin:answers_answerdeadletter_changelist"))
    change = en_client.post(reverse("admin:answers_answerdeadletter_change", args=[row.pk]), {"error": "x"})

    # then
    assert listing.status_code == 200
    assert change.status_code == 403
    row.refresh_from_db()
    assert row.error == "boom"
