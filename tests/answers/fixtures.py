import pytest

from plans.services.lifecycle import plan_start
from tests.plans.factories import QuestionFactory


@pytest.fixture
def open_exam(plan, stage, group):
    """The fixture plan started, with a paper of two multiple-choice and one short-answer question."""
    QuestionFactory(paper=stage.test_code, question_id="SA1", question_no=999, question_type="SHORT_ANSWER",
                    choices=[], max_length=20)  # fmt: skip
    plan_start(plan=plan, actor="test")
    return stage


@pytest.fixture
def questions(open_exam):
    from plans.models import Question

    return list(Question.objects.filter(paper_id=open_exam.test_code_id).order_by("question_no"))
