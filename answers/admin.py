"""The operator admin of the answer tables: read-only, built for millions of rows.

Answers are written only by the answer path (sync, flush, submit); an operator reads them here.
Lists join only the examinee, search by exact examinee or question ID (an index look-up), skip
the full count, and show 100 rows a page.
"""

from django.contrib import admin
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from plans.admin import ExactSearchMixin, GroupFilter, PlanFilter, ReadOnlyAdmin

from .models import Answer, AnswerData, AnswerDeadLetter, AnswerHistory, QuestionMetadata, SolvingStats

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


@admin.register(AnswerHistory)
class AnswerHistoryAdmin(AnswerTableAdmin):
    list_display = ("examinee", "question_code", "version", "value_preview", "timestamp", "duration")

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

    @admin.display(description=_("last error"))
    def error_preview(self, obj: AnswerDeadLetter) -> str:
        return Truncator(obj.error).chars(VALUE_PREVIEW_CHARS)
