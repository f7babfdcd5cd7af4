"""Code tables of the data specification (section 3) that the plans app owns.

Stored values are the specification's English constants and are never translated; labels are.
`StatusCode` is the whole STATUS_CODE table (3.1); the narrower choices below are the subsets a
field may hold, with the same stored values, so one table stays the single source of the codes.
"""

from typing import NamedTuple

from django.db import models
from django.utils.translation import gettext_lazy as _


class StatusCode(models.TextChoices):
    """STATUS_CODE (3.1): every status of plans, groups, examinees and connections."""

    READY = "READY", _("Ready")
    IN_PROGRESS = "IN_PROGRESS", _("In progress")
    PAUSED = "PAUSED", _("Paused")
    COMPLETED = "COMPLETED", _("Completed")
    WAITING = "WAITING", _("Waiting")
    SUBMITTED = "SUBMITTED", _("Submitted")
    GIVE_UP = "GIVE_UP", _("Gave up")
    DISCONNECTED = "DISCONNECTED", _("Disconnected")
    CONNECTED = "CONNECTED", _("Connected")


class ProgressStatus(models.TextChoices):
    """The STATUS_CODE values a plan or a group moves through (TEST_PROGRESS, GROUP_PROGRESS)."""

    READY = StatusCode.READY.value, StatusCode.READY.label
    IN_PROGRESS = StatusCode.IN_PROGRESS.value, StatusCode.IN_PROGRESS.label
    PAUSED = StatusCode.PAUSED.value, StatusCode.PAUSED.label
    COMPLETED = StatusCode.COMPLETED.value, StatusCode.COMPLETED.label


class ExamStatus(models.TextChoices):
    """The STATUS_CODE values of an examinee's sitting (EXAMINEE_PROGRESS.EXAM_STATUS_CODE)."""

    WAITING = StatusCode.WAITING.value, StatusCode.WAITING.label
    IN_PROGRESS = StatusCode.IN_PROGRESS.value, StatusCode.IN_PROGRESS.label
    SUBMITTED = StatusCode.SUBMITTED.value, StatusCode.SUBMITTED.label
    GIVE_UP = StatusCode.GIVE_UP.value, StatusCode.GIVE_UP.label


class ConnectionStatus(models.TextChoices):
    """The STATUS_CODE values of a person's connection (CONN_STATUS_CODE), kept apart from exam status."""

    CONNECTED = StatusCode.CONNECTED.value, StatusCode.CONNECTED.label
    DISCONNECTED = StatusCode.DISCONNECTED.value, StatusCode.DISCONNECTED.label


class YesNo(models.TextChoices):
    """The specification's Y/N flags (TEST_STAGE.AUTO_MOVE_YN)."""

    YES = "Y", _("Yes")
    NO = "N", _("No")


class AnswerType(models.TextChoices):
    """ANSWER_TYPE of ANSWER_DATA (선택형/단답형) and the type of a question (an addition)."""

    MULTIPLE_CHOICE = "MULTIPLE_CHOICE", _("Multiple choice")
    SHORT_ANSWER = "SHORT_ANSWER", _("Short answer")


class TransitionSubject(models.TextChoices):
    """Addition: what a STATUS_TRANSITION row is about."""

    PLAN = "PLAN", _("Exam plan")
    GROUP = "GROUP", _("Exam group")
    EXAMINEE = "EXAMINEE", _("Examinee")
    SUPERVISOR = "SUPERVISOR", _("Supervisor")


class TransitionAction(models.TextChoices):
    """Addition: the operation that caused a STATUS_TRANSITION row."""

    START = "START", _("Start")
    PAUSE = "PAUSE", _("Pause")
    RESUME = "RESUME", _("Resume")
    COMPLETE = "COMPLETE", _("Complete")
    BEGIN = "BEGIN", _("Begin the exam")
    STAGE_MOVE = "STAGE_MOVE", _("Move to the next stage")
    SUBMIT = "SUBMIT", _("Submit")
    AUTO_SUBMIT = "AUTO_SUBMIT", _("Submit at the end of the last stage")
    FORCE_SUBMIT = "FORCE_SUBMIT", _("Force submit")
    GIVE_UP = "GIVE_UP", _("Give up")
    EXTEND = "EXTEND", _("Extra time")
    CONNECT = "CONNECT", _("Connect")
    DISCONNECT = "DISCONNECT", _("Disconnect")


class Transition(NamedTuple):
    """One legal step of a state machine: the statuses it may start from and the one it leads to."""

    sources: frozenset[str]
    target: str


# Transition tables: the one home of which operation may change which status into which (STYLE 8).
# Every service that changes a status calls the matching `*_transition_check()` of
# plans.services.lifecycle with the operation, which refuses any step these tables lack.
# Plans and groups: READY -> IN_PROGRESS <-> PAUSED -> COMPLETED.
PROGRESS_TRANSITIONS: dict[str, Transition] = {
    TransitionAction.START: Transition(frozenset({ProgressStatus.READY}), ProgressStatus.IN_PROGRESS),
    TransitionAction.PAUSE: Transition(frozenset({ProgressStatus.IN_PROGRESS}), ProgressStatus.PAUSED),
    TransitionAction.RESUME: Transition(frozenset({ProgressStatus.PAUSED}), ProgressStatus.IN_PROGRESS),
    TransitionAction.COMPLETE: Transition(
        frozenset({ProgressStatus.IN_PROGRESS, ProgressStatus.PAUSED}), ProgressStatus.COMPLETED
    ),
}

# Examinees: WAITING -> IN_PROGRESS -> SUBMITTED | GIVE_UP.
EXAM_TRANSITIONS: dict[str, Transition] = {
    TransitionAction.BEGIN: Transition(frozenset({ExamStatus.WAITING}), ExamStatus.IN_PROGRESS),
    TransitionAction.SUBMIT: Transition(frozenset({ExamStatus.IN_PROGRESS}), ExamStatus.SUBMITTED),
    TransitionAction.AUTO_SUBMIT: Transition(frozenset({ExamStatus.IN_PROGRESS}), ExamStatus.SUBMITTED),
    TransitionAction.FORCE_SUBMIT: Transition(frozenset({ExamStatus.IN_PROGRESS}), ExamStatus.SUBMITTED),
    TransitionAction.GIVE_UP: Transition(frozenset({ExamStatus.IN_PROGRESS}), ExamStatus.GIVE_UP),
}

# Connections, apart from the exam status: CONNECTED <-> DISCONNECTED.
CONNECTION_TRANSITIONS: dict[str, Transition] = {
    TransitionAction.CONNECT: Transition(frozenset({ConnectionStatus.DISCONNECTED}), ConnectionStatus.CONNECTED),
    TransitionAction.DISCONNECT: Transition(frozenset({ConnectionStatus.CONNECTED}), ConnectionStatus.DISCONNECTED),
}
