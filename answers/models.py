"""Answer tables of ../shared/seeds/003_0917053a83c69344.txt (2.6 ANSWER and 2.10 문항 풀이 정보).

Keys: the specification marks (EXAMINEE_ID, GROUP_ID, PLAN_ID) as the primary key of the 2.10
tables, but one examinee has a row per question (and, in the history, per version), so the real
key includes QUESTION_ID (and VERSION). Django 5.2 cannot register models with a
CompositePrimaryKey in the admin nor point a ForeignKey at them, and the admin and the API are
how operators read these tables; so every table here has a surrogate `id` and the
specification's key as a named unique constraint. See docs/data-model.md.

Indexes: every flushed change writes a row into three of these tables, and each index is written
with it. Django's default of one index per foreign key (two on PostgreSQL for a text key: a
second for LIKE) gave ANSWER_HISTORY eleven; a flush of 10,000 changes took 2.4 s, and 1.5 s
with the indexes below (measured with bench/flush_throughput.py). The unique constraint, which
starts with the examinee, serves the examinee; one (plan, group) index serves the admin's plan
and group filters and a plan's deletion; a plain question index serves the exact question search
and the PROTECT check of a question's deletion. Deleting a group scans these tables (rare).

EXAM_ID and USER_ID carry the transfer structure's `examId` (the plan code, seed 4.1) and
`userId` (the examinee's sign-in ID) as received and validated.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from plans.choices import AnswerType
from plans.models import ANSWER_VALUE_LENGTH, CODE_LENGTH, ID_LENGTH, Examinee, Question, TestGroup, TestPlan

# Versions are bounded so that every acknowledged version fits PostgreSQL's integer.
MAX_VERSION = 1_000_000_000


def question_foreign_key() -> models.ForeignKey:
    """The QUESTION_ID column of an answer table: no index of its own (a plain one in each table's
    Meta.indexes, without PostgreSQL's extra LIKE index); a question with answers cannot be deleted."""
    return models.ForeignKey(
        Question,
        verbose_name=_("question"),
        on_delete=models.PROTECT,
        related_name="+",
        db_column="question_id",
        db_index=False,
    )


class ExamineeAnswerKey(models.Model):
    """The (EXAMINEE_ID, GROUP_ID, PLAN_ID) columns every answer table starts with."""

    # No index of their own: each table's unique constraint starts with the examinee and its
    # (plan, group) index serves the plan and group filters (see the module docstring).
    examinee = models.ForeignKey(
        Examinee, verbose_name=_("examinee"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    group = models.ForeignKey(
        TestGroup, verbose_name=_("group"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    plan = models.ForeignKey(
        TestPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="+", db_index=False
    )

    class Meta:
        abstract = True


class TrackedAnswerKey(ExamineeAnswerKey):
    """The key columns plus EXAM_ID and USER_ID of the 2.10 tables."""

    exam_id = models.CharField(_("exam ID"), max_length=ID_LENGTH)
    user_id = models.CharField(_("user ID"), max_length=ID_LENGTH)

    class Meta:
        abstract = True


class Answer(ExamineeAnswerKey):
    """ANSWER (2.6): the final answer of one question, written when the sheet is submitted."""

    question = question_foreign_key()
    answer_content = models.TextField(_("answer"))
    submit_datetime = models.DateTimeField(_("submitted at"))

    class Meta:
        db_table = "ANSWER"
        verbose_name = _("submitted answer")
        verbose_name_plural = _("submitted answers")
        ordering = ["plan_id", "examinee_id", "question_id"]
        constraints = [
            models.UniqueConstraint(fields=["examinee", "question"], name="%(app_label)s_%(class)s_unique_question"),
        ]
        indexes = [
            models.Index(fields=["plan", "group"], name="answer_plan_group_idx"),
            models.Index(fields=["question"], name="answer_question_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.examinee_id}/{self.question_id}"


class AnswerData(TrackedAnswerKey):
    """ANSWER_DATA (2.10.1): the latest committed answer per examinee and question.

    Written only by the flush, which upserts and never lowers `version` (an addition: the
    per-question version of the transfer structure 4.1 that orders every change).
    """

    question = question_foreign_key()
    answer_type = models.CharField(_("answer type"), max_length=CODE_LENGTH, choices=AnswerType.choices)
    answer_value = models.CharField(_("answer value"), max_length=ANSWER_VALUE_LENGTH, blank=True)
    last_modified = models.DateTimeField(_("last modified"))
    version = models.PositiveIntegerField(_("version"))

    class Meta:
        db_table = "ANSWER_DATA"
        verbose_name = _("answer data")
        verbose_name_plural = _("answer data")
        ordering = ["plan_id", "examinee_id", "question_id"]
        constraints = [
            models.UniqueConstraint(fields=["examinee", "question"], name="%(app_label)s_%(class)s_unique_question"),
            models.CheckConstraint(
                condition=Q(version__gte=1, version__lte=MAX_VERSION), name="%(app_label)s_%(class)s_version_range"
            ),
            models.CheckConstraint(
                condition=Q(answer_type__in=AnswerType.values), name="%(app_label)s_%(class)s_answer_type_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["plan", "group"], name="answer_data_plan_group_idx"),
            models.Index(fields=["question"], name="answer_data_question_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.examinee_id}/{self.question_id} v{self.version}"


class AnswerHistory(TrackedAnswerKey):
    """ANSWER_HISTORY (2.10.2): one row per accepted version of an answer (append-only).

    The unique (examinee, question, version) constraint makes a redelivered queue entry a no-op.
    """

    question = question_foreign_key()
    answer_value = models.CharField(_("answer value"), max_length=ANSWER_VALUE_LENGTH, blank=True)
    timestamp = models.DateTimeField(_("changed at"))
    duration = models.PositiveIntegerField(_("solving time (seconds)"))
    version = models.PositiveIntegerField(_("version"))

    class Meta:
        db_table = "ANSWER_HISTORY"
        verbose_name = _("answer history")
        verbose_name_plural = _("answer history")
        permissions = [("restore_sheet", _("Can restore an examinee's sheet to a point in time"))]
        ordering = ["plan_id", "examinee_id", "question_id", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["examinee", "question", "version"], name="%(app_label)s_%(class)s_unique_version"
            ),
            models.CheckConstraint(
                condition=Q(version__gte=1, version__lte=MAX_VERSION), name="%(app_label)s_%(class)s_version_range"
            ),
        ]
        indexes = [
            models.Index(fields=["examinee", "timestamp"], name="answer_history_time_idx"),
            models.Index(fields=["plan", "group"], name="answer_history_plan_group_idx"),
            models.Index(fields=["question"], name="answer_history_question_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.examinee_id}/{self.question_id} v{self.version}"


class QuestionMetadata(TrackedAnswerKey):
    """QUESTION_METADATA (2.10.3): behaviour per examinee and question (visits, dwell time, input)."""

    question = question_foreign_key()
    visits = models.PositiveIntegerField(_("visits"), default=0)
    total_duration = models.PositiveIntegerField(_("total time (seconds)"), default=0)
    effective_duration = models.PositiveIntegerField(_("effective time (seconds)"), default=0)
    first_visit = models.DateTimeField(_("first visit"))
    last_visit = models.DateTimeField(_("last visit"))
    click_count = models.PositiveIntegerField(_("clicks"), default=0)
    scroll_count = models.PositiveIntegerField(_("scrolls"), default=0)
    input_count = models.PositiveIntegerField(_("inputs"), default=0)

    class Meta:
        db_table = "QUESTION_METADATA"
        verbose_name = _("question metadata")
        verbose_name_plural = _("question metadata")
        ordering = ["plan_id", "examinee_id", "question_id"]
        constraints = [
            models.UniqueConstraint(fields=["examinee", "question"], name="%(app_label)s_%(class)s_unique_question"),
        ]
        indexes = [
            models.Index(fields=["plan", "group"], name="question_meta_plan_group_idx"),
            models.Index(fields=["question"], name="question_meta_question_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.examinee_id}/{self.question_id}"


class SolvingStats(TrackedAnswerKey):
    """SOLVING_STATS (2.10.4): totals per examinee and exam (answered count, time, focus losses)."""

    total_questions = models.PositiveIntegerField(_("questions"), default=0)
    answered_questions = models.PositiveIntegerField(_("answered"), default=0)
    total_duration = models.PositiveIntegerField(_("total time (seconds)"), default=0)
    effective_duration = models.PositiveIntegerField(_("effective time (seconds)"), default=0)
    focus_lost_count = models.PositiveIntegerField(_("focus lost"), default=0)
    page_scrolls = models.PositiveIntegerField(_("page scrolls"), default=0)
    total_clicks = models.PositiveIntegerField(_("clicks"), default=0)

    class Meta:
        db_table = "SOLVING_STATS"
        verbose_name = _("solving statistics")
        verbose_name_plural = _("solving statistics")
        ordering = ["plan_id", "examinee_id"]
        constraints = [
            models.UniqueConstraint(fields=["examinee", "exam_id"], name="%(app_label)s_%(class)s_unique_exam"),
            models.CheckConstraint(
                condition=Q(answered_questions__lte=models.F("total_questions")),
                name="%(app_label)s_%(class)s_answered_within_total",
            ),
        ]
        indexes = [models.Index(fields=["plan", "group"], name="solving_stats_plan_group_idx")]

    def __str__(self) -> str:
        return f"{self.examinee_id}/{self.exam_id}"


class AnswerDeadLetter(models.Model):
    """Addition: a queue entry that kept failing to reach the database (seed 000, 5.1 재처리 큐).

    The entry is copied here (and to the dead-letter stream) before it leaves the answer queue, so
    nothing acknowledged is dropped; an operator fixes the cause and replays it from the admin.
    """

    stream = models.CharField(_("stream"), max_length=100)
    entry_id = models.CharField(_("entry ID"), max_length=50)
    examinee_id = models.CharField(_("examinee ID"), max_length=ID_LENGTH, blank=True)
    payload = models.JSONField(_("entry"))
    error = models.TextField(_("last error"))
    deliveries = models.PositiveIntegerField(_("deliveries"))
    created_at = models.DateTimeField(_("moved at"), auto_now_add=True)
    replayed_at = models.DateTimeField(_("replayed at"), null=True, blank=True)

    class Meta:
        db_table = "ANSWER_DEAD_LETTER"
        verbose_name = _("answer reprocess entry")
        verbose_name_plural = _("answer reprocess queue")
        permissions = [("replay_answerdeadletter", _("Can replay entries of the answer reprocess queue"))]
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["stream", "entry_id"], name="%(app_label)s_%(class)s_unique_entry"),
        ]

    def __str__(self) -> str:
        return f"{self.stream} {self.entry_id}"
