"""The operator admin of monitoring: server status and snapshots (read-only), and the wording of
the standard messages (the codes themselves come from monitoring.messages and stay read-only).
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from plans.admin import ReadOnlyAdmin

from .models import Monitoring, StdMessage, SystemStatus


@admin.register(SystemStatus)
class SystemStatusAdmin(ReadOnlyAdmin):
    list_display = (
        "server_id",
        "server_type",
        "status_code",
        "cpu_usage",
        "memory_usage",
        "network_status",
        "updated_at",
    )
    list_filter = ("server_type", "status_code", "network_status")
    search_fields = ("server_id",)


@admin.register(Monitoring)
class MonitoringAdmin(ReadOnlyAdmin):
    list_display = (
        "monitoring_time",
        "total_conn_cnt",
        "group_conn_cnt",
        "server_load_status",
        "network_status",
        "error_cnt",
        "violation_cnt",
    )
    list_filter = ("server_load_status", "network_status")
    date_hierarchy = "monitoring_time"
    show_full_result_count = False


@admin.register(StdMessage)
class StdMessageAdmin(admin.ModelAdmin):
    """Operators may reword a message (Korean and English); its code, name and kind stay as catalogued."""

    list_display = ("message_code", "message_name", "message_type", "category", "message_desc", "message_desc_en")
    list_filter = ("message_type", "category", "source_type")
    search_fields = ("message_code", "message_name", "message_desc", "message_desc_en")
    ordering = ("message_code",)
    list_per_page = 100
    fields = (
        "message_id",
        "message_code",
        "message_name",
        "message_type",
        "source_type",
        "category",
        "message_desc",
        "message_desc_en",
        "created_at",
        "updated_at",
    )
    readonly_fields = (
        "message_id",
        "message_code",
        "message_name",
        "message_type",
        "source_type",
        "category",
        "created_at",
        "updated_at",
    )
    search_help_text = _("Code, name or wording.")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
