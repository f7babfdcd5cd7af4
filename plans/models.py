"""Master and progress data of ../shared/seeds/003_0917053a83c69344.txt (sections 1 and 2.1-2.4).

Each model maps one specification table: `db_table` is the table's name, field names are the
specification's in snake_case with the same lengths and NULL-ability. Additions that the
specification lacks but an exam needs (question papers and questions, stage order, sign-in
credentials) are marked "Addition" and listed in docs/data-model.md.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from .choices import (
    AnswerType,
    ConnectionStatus,
    ExamStatus,
    ProgressStatus,
    TransitionAction,
    TransitionSubject,
    YesNo,
)

ID_LENGTH = 50
NAME_LENGTH = 200
PERSON_NAME_LENGTH = 100
CODE_LENGTH = 20
ANSWER_VALUE_LENGTH = 1000


class TestPlan(models.Model):
    """TEST_PLAN (1.1): one exam (시험 계획) with its overall window."""

    __test__ = False  # not a pytest test class

    plan_id = models.CharField(_("plan ID"), max_length=ID_LENGTH, primary_key=True)
    plan_name = models.CharField(_("exam name"), max_length=NAME_LENGTH)
    start_datetime = models.DateTimeField(_("start"))
    end_datetime = models.DateTimeField(_("end"))

    class Meta:
        db_table = "TEST_PLAN"
        verbose_name = _("exam plan")
        verbose_name_plural = _("exam plans")
        ordering = ["-start_datetime", "plan_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_datetime__gt=F("start_datetime")),
                name="%(app_label)s_%(class)s_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan_name} ({self.plan_id})"


class QuestionPaper(models.Model):
    """Addition: the question paper that TEST_STAGE.TEST_CODE names (시험지).

    The specification references papers by code but has no table for them; an exam cannot run
    without its questions.
    """

    test_code = models.CharField(_("paper code"), max_length=ID_LENGTH, primary_key=True)
    paper_name = models.CharField(_("paper name"), max_length=NAME_LENGTH)

    class Meta:
        db_table = "QUESTION_PAPER"
        verbose_name = _("question paper")
        verbose_name_plural = _("question papers")
        ordering = ["test_code"]

    def __str__(self) -> str:
        return f"{self.paper_name} ({self.test_code})"


class Question(models.Model):
    """Addition: one question of a paper; QUESTION_ID of the answer tables refers to it.

    `choices` holds the options of a multiple-choice question as a list of
    {"value": "1", "label": "..."}; a short answer has none and accepts up to `max_length`
    characters (never more than ANSWER_DATA.ANSWER_VALUE's 1,000).
    """

    question_id = models.CharField(_("question ID"), max_length=ID_LENGTH, primary_key=True)
    paper = models.ForeignKey(
        QuestionPaper,
        verbose_name=_("paper"),
        on_delete=models.PROTECT,
        related_name="questions",
        db_column="test_code",
    )
    question_no = models.PositiveSmallIntegerField(_("number"))
    question_type = models.CharField(_("type"), max_length=CODE_LENGTH, choices=AnswerType.choices)
    body = models.TextField(_("question text"))
    choices = models.JSONField(_("choices"), default=list, blank=True)
    max_length = models.PositiveSmallIntegerField(_("maximum answer length"), default=ANSWER_VALUE_LENGTH)
    points = models.PositiveSmallIntegerField(_("points"), default=1)

    class Meta:
        db_table = "QUESTION"
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["paper_id", "question_no"]
        constraints = [
            models.UniqueConstraint(fields=["paper", "question_no"], name="%(app_label)s_%(class)s_unique_number"),
            models.CheckConstraint(
                condition=Q(question_type__in=AnswerType.values), name="%(app_label)s_%(class)s_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(max_length__gte=1, max_length__lte=ANSWER_VALUE_LENGTH),
                name="%(app_label)s_%(class)s_max_length_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.paper_id} #{self.question_no} ({self.question_id})"

    def choice_values(self) -> list[str]:
        """The stored values a multiple-choice answer may take."""
        return [str(choice["value"]) for choice in self.choices or []]


class TestStage(models.Model):
    """TEST_STAGE (1.2): one timed part of a plan (교시), with its paper and auto-move rule."""

    __test__ = False

    stage_id = models.CharField(_("stage ID"), max_length=ID_LENGTH, primary_key=True)
    plan = models.ForeignKey(TestPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="stages")
    stage_name = models.CharField(_("stage name"), max_length=NAME_LENGTH)
    time_limit = models.PositiveIntegerField(_("time limit (seconds)"))
    auto_move_yn = models.CharField(_("auto move"), max_length=1, choices=YesNo.choices, default=YesNo.YES)
    test_code = models.ForeignKey(
        QuestionPaper,
        verbose_name=_("paper"),
        on_delete=models.PROTECT,
        related_name="stages",
        db_column="test_code",
        null=True,
        blank=True,
    )
    test_time = models.PositiveIntegerField(_("exam time"), null=True, blank=True)
    # Addition: the specification gives no order of stages within a plan.
    stage_order = models.PositiveSmallIntegerField(_("order"), default=1)

    class Meta:
        db_table = "TEST_STAGE"
        verbose_name = _("exam stage")
        verbose_name_plural = _("exam stages")
        ordering = ["plan_id", "stage_order"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "stage_order"], name="%(app_label)s_%(class)s_unique_order"),
            models.CheckConstraint(condition=Q(time_limit__gt=0), name="%(app_label)s_%(class)s_time_limit_positive"),
            models.CheckConstraint(
                condition=Q(auto_move_yn__in=YesNo.values), name="%(app_label)s_%(class)s_auto_move_yn_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stage_name} ({self.stage_id})"


class TestGroup(models.Model):
    """TEST_GROUP (1.3): a room or cohort of a plan with its own window and supervisors."""

    __test__ = False

    group_id = models.CharField(_("group ID"), max_length=ID_LENGTH, primary_key=True)
    plan = models.ForeignKey(TestPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="groups")
    group_name = models.CharField(_("group name"), max_length=NAME_LENGTH)
    group_desc = models.CharField(_("description"), max_length=500, null=True, blank=True)
    start_datetime = models.DateTimeField(_("start"))
    end_datetime = models.DateTimeField(_("end"))

    class Meta:
        db_table = "TEST_GROUP"
        verbose_name = _("exam group")
        verbose_name_plural = _("exam groups")
        ordering = ["plan_id", "group_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_datetime__gt=F("start_datetime")),
                name="%(app_label)s_%(class)s_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.group_name} ({self.group_id})"


class Supervisor(models.Model):
    """SUPERVISOR (1.4): a proctor of one group; signs in as the linked Django user."""

    supervisor_id = models.CharField(_("supervisor ID"), max_length=ID_LENGTH, primary_key=True)
    group = models.ForeignKey(TestGroup, verbose_name=_("group"), on_delete=models.CASCADE, related_name="supervisors")
    plan = models.ForeignKey(TestPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="supervisors")
    supervisor_name = models.CharField(_("supervisor name"), max_length=PERSON_NAME_LENGTH)
    # Addition: the account a supervisor signs in with.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user account"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="supervisor",
    )

    class Meta:
        db_table = "SUPERVISOR"
        verbose_name = _("supervisor")
        verbose_name_plural = _("supervisors")
        ordering = ["plan_id", "group_id", "supervisor_id"]
        indexes = [models.Index(fields=["plan", "group"], name="supervisor_plan_group_idx")]

    def __str__(self) -> str:
        return f"{self.supervisor_name} ({self.supervisor_id})"


class Examinee(models.Model):
    """EXAMINEE (1.5): a candidate of one group; signs in with EXAMINEE_ID and an access code.

    The access code is never stored: only its keyed HMAC-SHA256 (see plans.services.access_code_hash).
    """

    examinee_id = models.CharField(_("examinee ID"), max_length=ID_LENGTH, primary_key=True)
    group = models.ForeignKey(TestGroup, verbose_name=_("group"), on_delete=models.CASCADE, related_name="examinees")
    plan = models.ForeignKey(TestPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="examinees")
    examinee_name = models.CharField(_("examinee name"), max_length=PERSON_NAME_LENGTH)
    # Addition: sign-in credential, hashed; empty until the operator issues a code.
    access_code_hash = models.CharField(_("access code hash"), max_length=64, blank=True, default="", editable=False)
    access_code_issued_at = models.DateTimeField(_("access code issued at"), null=True, blank=True, editable=False)

    class Meta:
        db_table = "EXAMINEE"
        verbose_name = _("examinee")
        verbose_name_plural = _("examinees")
        ordering = ["plan_id", "group_id", "examinee_id"]
        indexes = [models.Index(fields=["plan", "group"], name="examinee_plan_group_idx")]

    def __str__(self) -> str:
        return f"{self.examinee_name} ({self.examinee_id})"

    @property
    def has_access_code(self) -> bool:
        return bool(self.access_code_hash)


class TestProgress(models.Model):
    """TEST_PROGRESS (2.1): the live status of a plan; one row per plan."""

    __test__ = False

    plan = models.OneToOneField(
        TestPlan, verbose_name=_("plan"), on_delete=models.CASCADE, primary_key=True, related_name="progress"
    )
    status_code = models.CharField(
        _("status"), max_length=CODE_LENGTH, choices=ProgressStatus.choices, default=ProgressStatus.READY
    )
    # Addition: when the plan started, was paused (while PAUSED) and completed (plans.services.lifecycle).
    started_at = models.DateTimeField(_("started at"), null=True, blank=True, editable=False)
    paused_at = models.DateTimeField(_("paused at"), null=True, blank=True, editable=False)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True, editable=False)

    class Meta:
        db_table = "TEST_PROGRESS"
        verbose_name = _("exam progress")
        verbose_name_plural = _("exam progress")
        constraints = [
            models.CheckConstraint(
                condition=Q(status_code__in=ProgressStatus.values), name="%(app_label)s_%(class)s_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan_id}: {self.status_code}"


class GroupProgress(models.Model):
    """GROUP_PROGRESS (2.2): the live status and head counts of a group; one row per group.

    The counters are kept by the transitions themselves (F() updates) and reconciled periodically.
    Addition: the group's clock. `paused_at` is set exactly while the group is PAUSED (a plan pause
    pauses its groups, `paused_with_plan` remembers which ones the plan's resume resumes);
    `paused_total` sums the finished pauses. Examinee deadlines are shifted by each pause on resume.
    """

    group = models.OneToOneField(
        TestGroup, verbose_name=_("group"), on_delete=models.CASCADE, primary_key=True, related_name="progress"
    )
    plan = models.ForeignKey(TestPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="group_progress")
    status_code = models.CharField(
        _("status"), max_length=CODE_LENGTH, choices=ProgressStatus.choices, default=ProgressStatus.READY
    )
    assigned_examinee_cnt = models.PositiveIntegerField(_("assigned examinees"), default=0)
    connected_examinee_cnt = models.PositiveIntegerField(_("connected examinees"), default=0)
    submitted_examinee_cnt = models.PositiveIntegerField(_("submitted examinees"), default=0)
    assigned_supervisor_cnt = models.PositiveIntegerField(_("assigned supervisors"), default=0)
    connected_supervisor_cnt = models.PositiveIntegerField(_("connected supervisors"), default=0)
    # Addition: the group's clock (see the docstring).
    started_at = models.DateTimeField(_("started at"), null=True, blank=True, editable=False)
    paused_at = models.DateTimeField(_("paused at"), null=True, blank=True, editable=False)
    paused_total = models.DurationField(_("total paused time"), default=timedelta(0), editable=False)
    paused_with_plan = models.BooleanField(_("paused with the plan"), default=False, editable=False)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True, editable=False)

    class Meta:
        db_table = "GROUP_PROGRESS"
        verbose_name = _("group progress")
        verbose_name_plural = _("group progress")
        ordering = ["plan_id", "group_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status_code__in=ProgressStatus.values), name="%(app_label)s_%(class)s_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(connected_examinee_cnt__lte=F("assigned_examinee_cnt"))
                & Q(submitted_examinee_cnt__lte=F("assigned_examinee_cnt"))
                & Q(connected_supervisor_cnt__lte=F("assigned_supervisor_cnt")),
                name="%(app_label)s_%(class)s_counts_within_assigned",
            ),
            models.CheckConstraint(
                condition=(Q(status_code=ProgressStatus.PAUSED) & Q(paused_at__isnull=False))
                | (~Q(status_code=ProgressStatus.PAUSED) & Q(paused_at__isnull=True)),
                name="%(app_label)s_%(class)s_paused_at_iff_paused",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.group_id}: {self.status_code}"


class SupervisorProgress(models.Model):
    """SUPERVISOR_PROGRESS (2.3): a supervisor's connection; one row per supervisor."""

    supervisor = models.OneToOneField(
        Supervisor, verbose_name=_("supervisor"), on_delete=models.CASCADE, primary_key=True, related_name="progress"
    )
    group = models.ForeignKey(TestGroup, verbose_name=_("group"), on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(TestPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="+")
    conn_status_code = models.CharField(
        _("connection"), max_length=CODE_LENGTH, choices=ConnectionStatus.choices, default=ConnectionStatus.DISCONNECTED
    )
    ip_addr = models.CharField(_("IP address"), max_length=50, blank=True, default="")
    browser_info = models.CharField(_("browser"), max_length=200, blank=True, default="")

    class Meta:
        db_table = "SUPERVISOR_PROGRESS"
        verbose_name = _("supervisor progress")
        verbose_name_plural = _("supervisor progress")
        ordering = ["plan_id", "group_id", "supervisor_id"]
        indexes = [models.Index(fields=["plan", "group"], name="supervisor_prog_plan_group_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(conn_status_code__in=ConnectionStatus.values),
                name="%(app_label)s_%(class)s_conn_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.supervisor_id}: {self.conn_status_code}"


class ExamineeProgress(models.Model):
    """EXAMINEE_PROGRESS (2.4): an examinee's sitting and connection; one row per examinee.

    Addition: the examinee's clock in the current stage. `stage_deadline` is the server-owned end
    of the stage (start + TIME_LIMIT + extra time + the group's pauses, shifted on each resume);
    NULL before the group starts and after the sitting ended (submitted, gave up, or the schedule
    ran out). `stage_extra_seconds` is the extra time granted in the current stage.
    """

    examinee = models.OneToOneField(
        Examinee, verbose_name=_("examinee"), on_delete=models.CASCADE, primary_key=True, related_name="progress"
    )
    group = models.ForeignKey(TestGroup, verbose_name=_("group"), on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(TestPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="+")
    exam_status_code = models.CharField(
        _("exam status"), max_length=CODE_LENGTH, choices=ExamStatus.choices, default=ExamStatus.WAITING
    )
    conn_status_code = models.CharField(
        _("connection"), max_length=CODE_LENGTH, choices=ConnectionStatus.choices, default=ConnectionStatus.DISCONNECTED
    )
    ip_addr = models.CharField(_("IP address"), max_length=50, blank=True, default="")
    browser_info = models.CharField(_("browser"), max_length=200, blank=True, default="")
    current_stage = models.ForeignKey(
        TestStage, verbose_name=_("current stage"), on_delete=models.PROTECT, related_name="+"
    )
    # Addition: the clock of the current stage (see the docstring).
    stage_started_at = models.DateTimeField(_("stage started at"), null=True, blank=True, editable=False)
    stage_deadline = models.DateTimeField(_("stage deadline"), null=True, blank=True, editable=False)
    stage_extra_seconds = models.PositiveIntegerField(_("extra time (seconds)"), default=0, editable=False)

    class Meta:
        db_table = "EXAMINEE_PROGRESS"
        verbose_name = _("examinee progress")
        verbose_name_plural = _("examinee progress")
        ordering = ["plan_id", "group_id", "examinee_id"]
        indexes = [
            models.Index(fields=["plan", "group", "exam_status_code"], name="examinee_prog_status_idx"),
            models.Index(fields=["current_stage", "exam_status_code"], name="examinee_prog_stage_idx"),
            # The deadline sweep asks for "deadline passed" every second: keep that a range scan.
            models.Index(
                fields=["stage_deadline"],
                name="examinee_prog_deadline_idx",
                condition=Q(stage_deadline__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(exam_status_code__in=ExamStatus.values), name="%(app_label)s_%(class)s_exam_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(conn_status_code__in=ConnectionStatus.values),
                name="%(app_label)s_%(class)s_conn_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.examinee_id}: {self.exam_status_code}/{self.conn_status_code}"


class StatusTransition(models.Model):
    """Addition: the audit trail of every state change (who, when, from, to) of plans, groups,
    examinees and supervisors, written by plans.services.lifecycle in the same transaction.

    IDs are plain columns, not foreign keys, so the trail outlives a deleted examinee or plan.
    `from_value`/`to_value` hold statuses, or stage IDs for a stage move; `seconds` the extra time.
    """

    occurred_at = models.DateTimeField(_("occurred at"), db_index=True)
    actor = models.CharField(_("by"), max_length=150)
    subject_type = models.CharField(_("subject"), max_length=CODE_LENGTH, choices=TransitionSubject.choices)
    subject_id = models.CharField(_("subject ID"), max_length=ID_LENGTH)
    plan_id = models.CharField(_("plan ID"), max_length=ID_LENGTH)
    group_id = models.CharField(_("group ID"), max_length=ID_LENGTH, blank=True, default="")
    action = models.CharField(_("action"), max_length=CODE_LENGTH, choices=TransitionAction.choices)
    from_value = models.CharField(_("from"), max_length=ID_LENGTH, blank=True, default="")
    to_value = models.CharField(_("to"), max_length=ID_LENGTH, blank=True, default="")
    seconds = models.IntegerField(_("seconds"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True, default="")

    class Meta:
        db_table = "STATUS_TRANSITION"
        verbose_name = _("status transition")
        verbose_name_plural = _("status transitions")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["subject_type", "subject_id", "occurred_at"], name="transition_subject_idx"),
            models.Index(fields=["plan_id", "group_id", "occurred_at"], name="transition_plan_group_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(subject_type__in=TransitionSubject.values), name="%(app_label)s_%(class)s_subject_valid"
            ),
            models.CheckConstraint(
                condition=Q(action__in=TransitionAction.values), name="%(app_label)s_%(class)s_action_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject_type} {self.subject_id}: {self.action} {self.from_value} -> {self.to_value}"
