"""Fixtures of the answer path: a started exam whose examinee has begun, with a short-answer question."""

import pytest

from plans.choices import ExamStatus
from plans.models import ExamineeProgress, Question
from plans.services.access import examinee_access_codes_issue, examinee_token_issue
from plans.services.lifecycle import examinee_exam_begin, plan_start
from tests.plans.factories import QuestionFactory


@pytest.fixture
def open_exam(plan, stage, group, examinee):
    """The fixture plan started and its examinees sitting, with a paper of multiple-choice questions and
    one short answer (`SA1`, at most 20 characters, always last)."""
    QuestionFactory(paper=stage.test_code, question_id="SA1", question_no=999, question_type="SHORT_ANSWER",
                    choices=[], max_length=20)  # fmt: skip
    plan_start(plan=plan, actor="test")
    waiting = ExamineeProgress.objects.filter(group=group, exam_status_code=ExamStatus.WAITING)
    for examinee_id in waiting.values_list("pk", flat=True):
        examinee_exam_begin(examinee_id=examinee_id, actor="test")
    return stage


@pytest.fixture
def questions(open_exam):
    return list(Question.objects.filter(paper_id=open_exam.test_code_id).order_by("question_no"))


@pytest.fixture
def token(examinee):
    """The examinee's sign-in token (an access code issued first), as the exam socket takes it."""
    examinee_access_codes_issue(examinee_ids=[examinee.pk])
    examinee.refresh_from_db()
    return examinee_token_issue(examinee=examinee)
