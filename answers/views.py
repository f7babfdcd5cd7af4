"""The examinee's pages: sign-in (GET /) and the exam page (GET /exam/), see docs/protocol.md.

Plain views that render templates/exam/*.html. Everything live (answers, recovery, the clock)
happens in the page's JavaScript (static/exam/js/) over /ws/exam/ and the HTTP API; the views
only hand it its configuration and its words, translated into the request's language (Korean
first), because the JavaScript holds no user-facing text of its own.
"""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

from monitoring.messages import CodedError
from plans.services.access import examinee_token_examinee_get

from .api.authentication import examinee_cookie_token

LOGIN_STRINGS = {
    "network_error": _("The server cannot be reached. Check the network and try again."),
    "error_http": _("Sign-in failed (HTTP {status}). Please try again."),
    "error_unknown": _("Something went wrong."),
    "error_with_code": _("{message} ({code})"),
}

EXAM_STRINGS = {
    **LOGIN_STRINGS,
    "question_legend": _("Question {no} ({points} points)"),
    "short_answer_label": _("Your answer"),
    "length_counter": _("{n} / {max} characters"),
    "clear_answer": _("Clear answer"),
    "position": _("Question {n} of {total}"),
    "stage_label": _("Stage {stage} · paper {paper}"),
    "palette_label": _("Question {no}: {answered}, {state}"),
    "answered": pgettext_lazy("exam page", "answered"),
    "not_answered": pgettext_lazy("exam page", "not answered"),
    "state_empty": _("Not answered yet"),
    "state_saving": _("Saving…"),
    "state_unsent": _("Not sent yet (offline)"),
    "state_saved": _("Saved"),
    "state_committed": _("Stored permanently"),
    "state_error": _("Not accepted ({code}). Please change the answer."),
    "overall_idle": _("No answers yet"),
    "overall_connecting": _("Connecting…"),
    "overall_reconnecting": _("Reconnecting… {n} unsent"),
    "overall_busy": _("Many examinees are connecting: the next try is in about {s} s."),
    "overall_offline": _("Offline: {n} unsent. Keep answering; they are kept on this device."),
    "overall_saving": _("Saving… {n} unsent"),
    "overall_saved": _("All answers saved"),
    "overall_committed": _("All answers stored permanently"),
    "overall_error": _("An answer was not accepted"),
    "overall_signed_out": _("Signed out: {n} unsent (kept on this device)"),
    "overall_fallback": _("(slow connection mode)"),
    "time_over": _("Time is up"),
    "time_left_minutes": _("{n} minutes left"),
    "paused_message": _("The exam is paused. Please wait for the supervisor's instructions."),
    "exam_completed": _("The exam has ended."),
    "signed_out": _("Your sign-in has ended. Your unsent answers are kept on this device."),
    "sign_in_again": _("Sign in again"),
    "replaced_by_server": _(
        "Question {questions}: a newer answer from another window or computer replaced the change made here."
    ),
    "leftovers": _("{n} changes from an earlier stage could not be sent. Please tell your supervisor."),
    "journal_memory_only": _(
        "This browser cannot keep answers on the device. Do not close this tab until all answers are saved."
    ),
    "journal_write_failed": _(
        "An answer could not be kept on this device. Do not close this tab until all answers are saved."
    ),
    "submit_confirm": _(
        "{n} of {total} questions are not answered. After submitting you cannot change your answers. Submit now?"
    ),
    "submit_sending": _("Saving the last changes and submitting…"),
    "submit_unsent": _("{n} answers could not be sent yet. Check the connection and try again."),
    "submit_needs_connection": _("Submitting needs a connection to the server. Please try again."),
    "submit_done": _("Your answers were submitted ({answered} of {total} questions answered)."),
}


@require_GET
@never_cache
@ensure_csrf_cookie  # the language switch posts to set_language
def exam_login_view(request: HttpRequest) -> HttpResponse:
    """The sign-in page: plan ID, examinee ID and access code."""
    context: dict[str, Any] = {
        "strings": LOGIN_STRINGS,
        "config": {"loginUrl": reverse("examinee-login"), "examUrl": reverse("exam-page")},
        "expired": request.GET.get("expired") == "1",
    }
    return render(request, "exam/login.html", context)


@require_GET
@never_cache
@ensure_csrf_cookie
def exam_page_view(request: HttpRequest) -> HttpResponse:
    """The exam page of the signed-in examinee; without a valid sign-in, back to the sign-in page."""
    token = examinee_cookie_token(request.COOKIES)
    if not token:
        return redirect("exam-login")
    try:
        examinee = examinee_token_examinee_get(token=token)
    except CodedError:
        return redirect(f"{reverse('exam-login')}?expired=1")
    context: dict[str, Any] = {
        "examinee": examinee,
        "strings": EXAM_STRINGS,
        "config": {
            "planId": examinee.plan_id,
            "examineeId": examinee.examinee_id,
            "wsPath": "/ws/exam/",
            "syncUrl": reverse("answer-sync"),
            "recoverUrl": reverse("answer-recover"),
            "loginUrl": reverse("exam-login"),
        },
    }
    return render(request, "exam/exam.html", context)
