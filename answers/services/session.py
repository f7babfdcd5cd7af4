"""Starting an examinee's sitting from the answer path itself, for clients without a socket."""

from __future__ import annotations

from collections.abc import Sequence

from monitoring.messages import CodedError
from plans.choices import ExamStatus, ProgressStatus
from plans.models import Examinee
from plans.services.access import examinee_tokens_examinees_get
from plans.services.lifecycle import examinee_exam_begin
from proctoring.models import SocketSession
from proctoring.services import ClientInfo, ExamineeSocket, examinee_sockets_record

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


def examinee_sockets_open(
    *, sockets: Sequence[tuple[str, ClientInfo]]
) -> list[tuple[Examinee, SocketSession] | CodedError]:
    """Check exam sockets' tokens and record the sockets (which begins a waiting examinee's exam),
    several (token, client) at once: one query for the tokens, one transaction for the rows
    (proctoring.services.examinee_sockets_record). Returns, in order, each socket's examinee and
    row, or the CodedError that refuses it; one refusal does not refuse the others."""
    examinees = examinee_tokens_examinees_get(tokens=[token for token, _info in sockets])
    wanted = [
        ExamineeSocket(examinee.examinee_id, examinee.plan_id, examinee.group_id, info)
        for examinee, (_token, info) in zip(examinees, sockets, strict=True)
        if isinstance(examinee, Examinee)
    ]
    recorded = iter(examinee_sockets_record(sockets=wanted) if wanted else [])
    results: list[tuple[Examinee, SocketSession] | CodedError] = []
    for examinee in examinees:
        if isinstance(examinee, CodedError):
            results.append(examinee)
            continue
        row = next(recorded)
        results.append(row if isinstance(row, CodedError) else (examinee, row))
    return results
