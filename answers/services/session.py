"""Starting an examinee's sitting from the answer path itself, for clients without a socket."""

from __future__ import annotations

from monitoring.messages import CodedError
from plans.choices import ExamStatus, ProgressStatus
from plans.models import Examinee
from plans.services.access import examinee_token_examinee_get
from plans.services.lifecycle import examinee_exam_begin
from proctoring.choices import UserType
from proctoring.models import SocketSession
from proctoring.services import ClientInfo, socket_session_open

from ..selectors import ExamineeContext, examinee_context_get

RUNNING_GROUP_STATUSES = (ProgressStatus.IN_PROGRESS, ProgressStatus.PAUSED)


def examinee_sitting_context_get(*, examinee_id: str) -> ExamineeContext:
    """The examinee's context, beginning the exam first when they wait and their group runs.

    A socket connect does this through the socket session (examinee_connect); a page whose
    network blocks WebSockets reaches the server only over the HTTP fallback and must be able
    to begin too. When the exam cannot begin yet, the context is returned as it is and the
    caller's window check answers with the reason's code.
    """
    context = examinee_context_get(examinee_id=examinee_id)
    if context.exam_status != ExamStatus.WAITING or context.group_status not in RUNNING_GROUP_STATUSES:
        return context
    try:
        examinee_exam_begin(examinee_id=examinee_id)
    except CodedError:
        return context
    return examinee_context_get(examinee_id=examinee_id)


def examinee_socket_open(*, token: str, info: ClientInfo) -> tuple[Examinee, SocketSession]:
    """Check an exam socket's token and record the socket (which begins a waiting examinee's exam).

    One call, so that a connect costs the ASGI process one trip to its database thread.
    Raises AUTH_TOKEN_INVALID for a token that is not (or no longer) valid.
    """
    examinee = examinee_token_examinee_get(token=token)
    socket = socket_session_open(
        user_type=UserType.EXAMINEE,
        user_id=examinee.examinee_id,
        plan_id=examinee.plan_id,
        group_id=examinee.group_id,
        info=info,
    )
    return examinee, socket
