"""The operator admin of proctoring: violations, socket sessions and media captures, read-only.

These rows are written by the sockets and the capture upload; operators read and filter them.
"""

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from plans.admin import ExactSearchMixin, GroupFilter, PlanFilter, ReadOnlyAdmin

from .models import MediaCapture, SocketSession, Violation


@admin.register(Violation)
class ViolationAdmin(ExactSearchMixin, ReadOnlyAdmin):
    list_display = ("occurrence_datetime", "examinee", "group", "violation_type_code")
    list_select_related = ("examinee", "group")
    list_filter = (PlanFilter, GroupFilter, "violation_type_code")
    search_fields = ("examinee__examinee_id",)
    exact_search_fields = ("examinee_id",)
    search_help_text = _("Exact examinee ID.")
    date_hierarchy = "occurrence_datetime"
    show_full_result_count = False


@admin.register(SocketSession)
class SocketSessionAdmin(ExactSearchMixin, ReadOnlyAdmin):
    list_display = (
        "socket_id",
        "user_type",
        "user_id",
        "group",
        "session_status",
        "conn_time",
        "last_heartbeat",
        "client_ip",
        "browser_info",
    )
    list_select_related = ("group",)
    list_filter = (PlanFilter, GroupFilter, "user_type", "session_status")
    search_fields = ("user_id",)
    exact_search_fields = ("user_id", "socket_id", "client_ip")
    search_help_text = _("Exact user ID, socket ID or client IP.")
    show_full_result_count = False


@admin.register(MediaCapture)
class MediaCaptureAdmin(ExactSearchMixin, ReadOnlyAdmin):
    list_display = ("captured_at", "examinee", "media_type", "size_bytes", "status", "file_link")
    list_select_related = ("examinee",)
    list_filter = (PlanFilter, GroupFilter, "media_type", "status")
    search_fields = ("examinee__examinee_id",)
    exact_search_fields = ("examinee_id", "sha256")
    search_help_text = _("Exact examinee ID or SHA-256.")
    date_hierarchy = "captured_at"
    show_full_result_count = False

    @admin.display(description=_("file"))
    def file_link(self, obj: MediaCapture) -> str:
        if not obj.file:
            return "-"
        return format_html('<a href="{}">{}</a>', obj.file.url, obj.file.name.rsplit("/", 1)[-1])
