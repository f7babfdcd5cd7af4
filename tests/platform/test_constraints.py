"""The database itself refuses bad rows: duplicate keys, over-long values, unknown codes, broken invariants.

Each refusal is checked on PostgreSQL with the row count unchanged afterwards (nothing half-stored).
"""

from datetime import timedelta

import pytest
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from answers.models import AnswerData, AnswerHistory
from monitoring.models import StdMessage, SystemStatus
from plans.models import Examinee, GroupProgress, TestPlan, TestStage
from proctoring.models import Violation

pytestmark = pytest.mark.django_db


def _refused(model, error, create):
    before = model.objects.count()
    with pytest.raises(error), transaction.atomic():
        create()
    assert model.objects.count() == before


def test_duplicate_primary_key_is_refused(plan):
    """TEST_PLAN.PLAN_ID is the primary key: a second plan with the same ID is refused."""
    now = timezone.now()
    _refused(TestPlan, IntegrityError, lambda: TestPlan.objects.create(
        plan_id=plan.pk, plan_name="dup", start_datetime=now, end_datetime=now + timedelta(hours=1)))  # fmt: skip


def test_over_long_value_is_refused(examinee):
    """EXAMINEE.EXAMINEE_NAME is VARCHAR(100): 101 characters are refused by PostgreSQL itself."""
    _refused(Examinee, DataError, lambda: Examinee.objects.create(
        examinee_id="LONG", group=examinee.group, plan=examinee.plan, examinee_name="가" * 101))  # fmt: skip


def test_unknown_code_is_refused(examinee):
    """VIOLATION_TYPE_CODE must be a code of the table: a made-up one breaks the check constraint."""
    _refused(Violation, IntegrityError, lambda: Violation.objects.create(
        examinee=examinee, group=examinee.group, plan=examinee.plan, violation_type_code="MADE_UP",
        occurrence_datetime=timezone.now()))  # fmt: skip


def test_auto_move_flag_is_y_or_n(plan):
    """AUTO_MOVE_YN is CHAR(1) and only Y or N."""
    _refused(TestStage, IntegrityError, lambda: TestStage.objects.create(
        stage_id="S-X", plan=plan, stage_name="x", time_limit=60, auto_move_yn="X", stage_order=9))  # fmt: skip


def test_end_before_start_is_refused():
    """A plan cannot end before it starts."""
    now = timezone.now()
    _refused(TestPlan, IntegrityError, lambda: TestPlan.objects.create(
        plan_id="BACKWARDS", plan_name="x", start_datetime=now, end_datetime=now - timedelta(seconds=1)))  # fmt: skip


def test_group_counts_cannot_exceed_assigned(group):
    """GROUP_PROGRESS: connected and submitted examinees never exceed the assigned ones."""
    with pytest.raises(IntegrityError), transaction.atomic():
        GroupProgress.objects.filter(pk=group.pk).update(connected_examinee_cnt=1)
    assert GroupProgress.objects.get(pk=group.pk).connected_examinee_cnt == 0


def test_answer_keys_and_versions(examinee, stage):
    """ANSWER_DATA is unique per examinee and question; ANSWER_HISTORY per version; versions are 1..10^9."""
    question = stage.test_code.questions.first()
    common = {"examinee": examinee, "group": examinee.group, "plan": examinee.plan, "exam_id": examinee.plan_id,
              "user_id": examinee.pk, "question": question}  # fmt: skip
    AnswerData.objects.create(**common, answer_type="MULTIPLE_CHOICE", answer_value="1", version=1,
                              last_modified=timezone.now())  # fmt: skip
    second = {"answer_type": "MULTIPLE_CHOICE", "answer_value": "2", "version": 2, "last_modified": timezone.now()}
    _refused(AnswerData, IntegrityError, lambda: AnswerData.objects.create(**common, **second))
    AnswerHistory.objects.create(**common, answer_value="1", timestamp=timezone.now(), duration=0, version=1)
    _refused(AnswerHistory, IntegrityError, lambda: AnswerHistory.objects.create(
        **common, answer_value="1", timestamp=timezone.now(), duration=0, version=1))  # fmt: skip
    _refused(AnswerHistory, IntegrityError, lambda: AnswerHistory.objects.create(
        **common, answer_value="1", timestamp=timezone.now(), duration=0, version=0))  # fmt: skip


def test_percentages_and_message_codes(db):
    """SYSTEM_STATUS percentages stay within 0..100; STD_MESSAGE codes are unique."""
    _refused(SystemStatus, IntegrityError, lambda: SystemStatus.objects.create(
        server_id="web-1", server_type="WEB", status_code="UP", cpu_usage=100.5, memory_usage=1,
        network_status="NORMAL"))  # fmt: skip
    StdMessage.objects.create(message_id="A", message_type="INFO", source_type="SERVER", category="SYSTEM",
                              message_code="T-1", message_name="A", message_desc="a")  # fmt: skip
    _refused(StdMessage, IntegrityError, lambda: StdMessage.objects.create(
        message_id="B", message_type="INFO", source_type="SERVER", category="SYSTEM", message_code="T-1",
        message_name="B", message_desc="b"))  # fmt: skip
