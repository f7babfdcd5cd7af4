"""The operator admin of the answer tables: read-only, built for millions of rows.

Answers are written only by the answer path (sync, flush, submit); an operator reads them here.
Lists join only the examinee, search by exact examinee or question ID (an index look-up), skip
the full count, and show 100 rows a page.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from monitoring.messages import CodedError
from plans.admin import ExactSearchMixin, GroupFilter, PlanFilter, ReadOnlyAdmin

from .models import Answer, AnswerData, AnswerDeadLetter, AnswerHistory, QuestionMetadata, SolvingStats
from .services.operations import answer_dead_letters_replay, answer_sheet_restore

VALUE_PREVIEW_CHARS = 60


class AnswerTableAdmin(ExactSearchMixin, ReadOnlyAdmin):
    """Shared columns, filters and search of the per-examinee answer tables."""

    list_select_related = ("examinee",)
    list_filter = (PlanFilter, GroupFilter)
    search_fields = ("examinee__examinee_id",)
    exact_search_fields = ("examinee_id", "question_id")
    search_help_text = _("Exact examinee ID or question ID.")
    show_full_result_count = False

    @admin.display(description=_("question"), ordering="question_id")
    def question_code(self, obj) -> str:
        return obj.question_id


@admin.register(Answer)
class AnswerAdmin(AnswerTableAdmin):
    list_display = ("examinee", "question_code", "content_preview", "submit_datetime")

    @admin.display(description=_("answer"))
    def content_preview(self, obj: Answer) -> str:
        return Truncator(obj.answer_content).chars(VALUE_PREVIEW_CHARS)


@admin.register(AnswerData)
class AnswerDataAdmin(AnswerTableAdmin):
    list_display = ("examinee", "question_code", "answer_type", "value_preview", "version", "last_modified")
    list_filter = (PlanFilter, GroupFilter, "answer_type")

    @admin.display(description=_("answer value"))
    def value_preview(self, obj: AnswerData) -> str:
        return Truncator(obj.answer_value).chars(VALUE_PREVIEW_CHARS)


class SheetRestoreForm(forms.Form):
    examinee_id = forms.CharField(label=_("examinee ID"), max_length=50)
    restore_to = forms.DateTimeField(
        label=_("restore to (date and time)"),
        help_text=_("The sheet becomes what it was at this moment; later answers are cleared."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )


@admin.register(AnswerHistory)
class AnswerHistoryAdmin(AnswerTableAdmin):
    list_display = ("examinee", "question_code", "version", "value_preview", "timestamp", "duration")
    change_list_template = "admin/answers/answerhistory/change_list.html"

    def get_urls(self):
        urls = [path("restore/", self.admin_site.admin_view(self.restore_view), name="answers_answerhistory_restore")]
        return urls + super().get_urls()

    def restore_view(self, request: HttpRequest) -> HttpResponse:
        """Restore an examinee's sheet to a point in time (seed 5.2 "이전 버전 조회"), as new versions."""
        if not request.user.has_perm("answers.restore_sheet"):
            raise PermissionDenied
        form = SheetRestoreForm(request.POST or None, initial={"examinee_id": request.GET.get("examinee_id", "")})
        if request.method == "POST" and form.is_valid():
            try:
                result = answer_sheet_restore(
                    examinee_id=form.cleaned_data["examinee_id"],
                    at=form.cleaned_data["restore_to"],
                    actor=f"admin:{request.user.get_username()}",
                )
            except CodedError as error:
                form.add_error(None, f"{error.code} {error.message.text()} {error.detail}".strip())
            else:
                self.message_user(
                    request,
                    _("Restored %(count)d question(s) of %(examinee)s as new versions.")
                    % {"count": len(result.changes), "examinee": form.cleaned_data["examinee_id"]},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:answers_answerhistory_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Restore a sheet to a point in time"),
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/answers/restore_sheet.html", context)

    @admin.display(description=_("answer value"))
    def value_preview(self, obj: AnswerHistory) -> str:
        return Truncator(obj.answer_value).chars(VALUE_PREVIEW_CHARS)


@admin.register(QuestionMetadata)
class QuestionMetadataAdmin(AnswerTableAdmin):
    list_display = (
        "examinee",
        "question_code",
        "visits",
        "total_duration",
        "effective_duration",
        "click_count",
        "scroll_count",
        "input_count",
        "first_visit",
        "last_visit",
    )


@admin.register(SolvingStats)
class SolvingStatsAdmin(AnswerTableAdmin):
    list_display = (
        "examinee",
        "exam_id",
        "total_questions",
        "answered_questions",
        "total_duration",
        "effective_duration",
        "focus_lost_count",
        "page_scrolls",
        "total_clicks",
    )
    exact_search_fields = ("examinee_id", "exam_id")
    search_help_text = _("Exact examinee ID or exam ID.")


@admin.register(AnswerDeadLetter)
class AnswerDeadLetterAdmin(ExactSearchMixin, ReadOnlyAdmin):
    """Queue entries that kept failing to reach the database, kept for an operator to inspect."""

    list_display = ("created_at", "stream", "entry_id", "examinee_id", "deliveries", "error_preview", "replayed_at")
    list_filter = ("stream",)
    search_fields = ("examinee_id",)
    exact_search_fields = ("examinee_id", "entry_id")
    search_help_text = _("Exact examinee ID or entry ID.")
    date_hierarchy = "created_at"

    actions = ["replay"]

    @admin.display(description=_("last error"))
    def error_preview(self, obj: AnswerDeadLetter) -> str:
        return Truncator(obj.error).chars(VALUE_PREVIEW_CHARS)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("answers.replay_answerdeadletter")

    @admin.action(description=_("Replay the selected entries (after fixing the cause)"), permissions=["replay"])
    def replay(self, request: HttpRequest, queryset) -> None:
        try:
            count = answer_dead_letters_replay(
                dead_letter_ids=list(queryset.values_list("pk", flat=True)),
                actor=f"admin:{request.user.get_username()}",
            )
        except CodedError as error:
            self.message_user(request, f"{error.code} {error.message.text()}", messages.ERROR)
            return
        self.message_user(
            request, _("%(count)d entr(ies) put back on the answer queue.") % {"count": count}, messages.SUCCESS
        )
