"""Reads of the answers app: the examinee's context for the answer path, papers, stored answers."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from threading import Lock

from django.db.models import QuerySet

from monitoring.messages import CodedError, Msg
from plans.choices import AnswerType, ExamStatus, ProgressStatus
from plans.models import ExamineeProgress, GroupProgress, Question, TestProgress

from .models import AnswerData, QuestionMetadata

PAPER_CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class QuestionRule:
    """What an answer to one question may be: its type, allowed choices and maximum length."""

    question_id: str
    question_type: str
    choices: frozenset[str]
    max_length: int

    def check(self, value: str) -> Msg | None:
        """The reason `value` is refused, or None. An empty value clears an answer."""
        if len(value) > self.max_length:
            return Msg.VALIDATION_VALUE_TOO_LONG
        if self.question_type == AnswerType.MULTIPLE_CHOICE and value and value not in self.choices:
            return Msg.VALIDATION_INVALID_CHOICE
        return None


@dataclass(frozen=True)
class Paper:
    """A question paper as the answer path needs it, kept in process memory."""

    test_code: str
    rules: dict[str, QuestionRule]
    questions: list[dict]


_papers: dict[str, tuple[float, Paper]] = {}
_papers_lock = Lock()


def paper_get(*, test_code: str) -> Paper:
    """The paper `test_code` with its questions; cached in memory for a minute (papers do not change mid-exam)."""
    now = time.monotonic()
    cached = _papers.get(test_code)
    if cached and now - cached[0] < PAPER_CACHE_SECONDS:
        return cached[1]
    questions = list(Question.objects.filter(paper_id=test_code).order_by("question_no"))
    paper = Paper(
        test_code=test_code,
        rules={
            q.question_id: QuestionRule(
                question_id=q.question_id,
                question_type=q.question_type,
                choices=frozenset(q.choice_values()),
                max_length=q.max_length,
            )
            for q in questions
        },
        questions=[
            {
                "id": q.question_id,
                "no": q.question_no,
                "type": q.question_type,
                "body": q.body,
                "choices": q.choices if q.question_type == AnswerType.MULTIPLE_CHOICE else [],
                "maxLength": q.max_length,
                "points": q.points,
            }
            for q in questions
        ],
    )
    with _papers_lock:
        _papers[test_code] = (now, paper)
    return paper


_plan_totals: dict[str, tuple[float, int]] = {}


def plan_question_total(*, plan_id: str) -> int:
    """How many questions the papers of all the plan's stages hold (cached for a minute)."""
    now = time.monotonic()
    cached = _plan_totals.get(plan_id)
    if cached and now - cached[0] < PAPER_CACHE_SECONDS:
        return cached[1]
    total = Question.objects.filter(paper__stages__plan_id=plan_id).count()
    _plan_totals[plan_id] = (now, total)
    return total


@dataclass
class ExamineeContext:
    """Who is writing and into what: the examinee, their plan, group, current stage and paper,
    and the state that decides whether they may write now (loaded from the database)."""

    examinee_id: str
    plan_id: str
    group_id: str
    stage_id: str
    test_code: str
    exam_status: str
    plan_status: str
    group_status: str
    deadline: datetime | None
    paper: Paper
    loaded_at: float = field(default_factory=time.monotonic)

    def remaining_seconds(self, *, now: datetime) -> int | None:
        """Whole seconds left in the current stage (None when the stage has no running clock)."""
        if self.deadline is None:
            return None
        return max(0, int((self.deadline - now).total_seconds()))

    def write_refusal(self, *, now: datetime) -> Msg | None:
        """Why this examinee may not write right now, or None when they may."""
        if self.exam_status in (ExamStatus.SUBMITTED, ExamStatus.GIVE_UP):
            return Msg.EXAM_ALREADY_SUBMITTED
        if ProgressStatus.PAUSED in (self.plan_status, self.group_status):
            return Msg.EXAM_PAUSED
        if self.plan_status != ProgressStatus.IN_PROGRESS or self.group_status != ProgressStatus.IN_PROGRESS:
            return Msg.EXAM_NOT_OPEN
        if self.deadline is not None and now > self.deadline:
            return Msg.EXAM_STAGE_CLOSED
        return None


def examinee_context_get(*, examinee_id: str) -> ExamineeContext:
    """The examinee's current context (three indexed reads); CodedError when they have no progress row."""
    progress = ExamineeProgress.objects.select_related("current_stage").filter(pk=examinee_id).first()
    if progress is None:
        raise CodedError(Msg.AUTH_TOKEN_INVALID, detail="unknown examinee")
    plan_status = TestProgress.objects.filter(pk=progress.plan_id).values_list("status_code", flat=True).first()
    group_status = GroupProgress.objects.filter(pk=progress.group_id).values_list("status_code", flat=True).first()
    stage = progress.current_stage
    return ExamineeContext(
        examinee_id=examinee_id,
        plan_id=progress.plan_id,
        group_id=progress.group_id,
        stage_id=stage.stage_id,
        test_code=stage.test_code_id or "",
        exam_status=progress.exam_status_code,
        plan_status=plan_status or ProgressStatus.READY,
        group_status=group_status or ProgressStatus.READY,
        deadline=None,
        paper=paper_get(test_code=stage.test_code_id) if stage.test_code_id else Paper("", {}, []),
    )


def answer_data_list(*, examinee_id: str, question_ids: list[str] | None = None) -> QuerySet[AnswerData]:
    """The committed answers of an examinee (optionally of some questions)."""
    queryset = AnswerData.objects.filter(examinee_id=examinee_id)
    if question_ids is not None:
        queryset = queryset.filter(question_id__in=question_ids)
    return queryset


def question_metadata_list(*, examinee_id: str, question_ids: list[str]) -> QuerySet[QuestionMetadata]:
    return QuestionMetadata.objects.filter(examinee_id=examinee_id, question_id__in=question_ids)
