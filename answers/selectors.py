"""Reads of the answers app: the examinee's context for the answer path, papers, stored answers."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from threading import Lock

from django.db.models import QuerySet

from monitoring.messages import CodedError, Msg
from plans.choices import AnswerType, ExamStatus, ProgressStatus
from plans.models import Question
from plans.services.clock import examinee_clocks_get

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
    """Who is writing and into what: the examinee, their plan, group, current stage and paper, and
    the server clock that decides whether they may write now (plans.services.clock)."""

    examinee_id: str
    plan_id: str
    group_id: str
    stage_id: str
    test_code: str
    exam_status: str
    group_status: str
    deadline: datetime | None
    paused: bool
    remaining_ms_at_load: int
    paper: Paper
    loaded_at: float = field(default_factory=time.monotonic)
    # The state epochs of the group and the examinee read just before this context, as
    # "<group>|<examinee>" (plans.services.lifecycle.exam_group_epoch_key); "-" for a context
    # read for one request, which needs no epoch check.
    epoch: str = "-"

    def remaining_seconds(self, *, now: datetime) -> int:
        """Whole seconds left in the current stage, rounded up (frozen while paused)."""
        if self.deadline is None:
            return 0 if not self.paused else math.ceil(self.remaining_ms_at_load / 1000)
        return max(0, math.ceil((self.deadline - now).total_seconds()))

    def write_refusal(self, *, now: datetime) -> Msg | None:
        """Why this examinee may not write right now, or None when they may.

        The same rules as plans.services.clock.examinee_write_window_check, on the context the
        socket keeps in memory, so that a save costs no database query. The save's Lua call
        refuses a context older than the group's last state change (its epoch), so a socket
        never writes on a state that has moved on (answers.consumers).
        """
        if self.exam_status in (ExamStatus.SUBMITTED, ExamStatus.GIVE_UP):
            return Msg.EXAM_ALREADY_SUBMITTED
        if self.group_status not in (ProgressStatus.IN_PROGRESS, ProgressStatus.PAUSED):
            return Msg.EXAM_NOT_OPEN
        if self.exam_status != ExamStatus.IN_PROGRESS:
            return Msg.EXAM_NOT_OPEN
        if self.paused:
            return Msg.EXAM_PAUSED
        if self.deadline is None or now >= self.deadline:
            return Msg.EXAM_STAGE_CLOSED
        return None


def examinee_context_get(*, examinee_id: str) -> ExamineeContext:
    """The examinee's current context: the server clock (one query) and the stage's paper (memory)."""
    context = examinee_contexts_get(examinee_ids=[examinee_id]).get(examinee_id)
    if context is None:
        raise CodedError(Msg.EXAM_NOT_FOUND, detail=examinee_id)
    return context


def examinee_contexts_get(*, examinee_ids: Iterable[str]) -> dict[str, ExamineeContext]:
    """The contexts of several examinees with one query whatever their number (the connects of one
    moment, answers.connects); an unknown examinee is left out."""
    return {
        examinee_id: ExamineeContext(
            examinee_id=examinee_id,
            plan_id=clock.plan_id,
            group_id=clock.group_id,
            stage_id=clock.stage_id,
            test_code=clock.test_code,
            exam_status=clock.exam_status,
            group_status=clock.group_status,
            deadline=clock.deadline,
            paused=clock.paused,
            remaining_ms_at_load=clock.remaining_ms,
            paper=paper_get(test_code=clock.test_code) if clock.test_code else Paper("", {}, []),
        )
        for examinee_id, clock in examinee_clocks_get(examinee_ids).items()
    }


def answer_data_of(*, examinee_ids: list[str]) -> QuerySet[AnswerData]:
    """The committed answers of several examinees (of every paper)."""
    return AnswerData.objects.filter(examinee_id__in=examinee_ids)


def question_metadata_of(*, examinee_ids: list[str]) -> QuerySet[QuestionMetadata]:
    """The per-question behaviour counters of several examinees (of every paper)."""
    return QuestionMetadata.objects.filter(examinee_id__in=examinee_ids)
