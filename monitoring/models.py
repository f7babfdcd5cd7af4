"""Monitoring tables of ../shared/seeds/003_0917053a83c69344.txt (2.7 SYSTEM_STATUS, 2.8 MONITORING,
2.9 STD_MESSAGE).
"""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from plans.models import CODE_LENGTH, ID_LENGTH

from .choices import LoadStatus, MessageCategory, MessageType, NetworkStatus, ServerStatus, ServerType, SourceType

PERCENT_VALIDATORS = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]


class SystemStatus(models.Model):
    """SYSTEM_STATUS (2.7): the latest health reading of one server process."""

    server_id = models.CharField(_("server ID"), max_length=ID_LENGTH, primary_key=True)
    server_type = models.CharField(_("server type"), max_length=CODE_LENGTH, choices=ServerType.choices)
    status_code = models.CharField(_("status"), max_length=CODE_LENGTH, choices=ServerStatus.choices)
    cpu_usage = models.DecimalField(_("CPU (%)"), max_digits=5, decimal_places=2, validators=PERCENT_VALIDATORS)
    memory_usage = models.DecimalField(_("memory (%)"), max_digits=5, decimal_places=2, validators=PERCENT_VALIDATORS)
    network_status = models.CharField(_("network"), max_length=CODE_LENGTH, choices=NetworkStatus.choices)
    # Addition: when the reading was taken, so a silent server shows as stale.
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "SYSTEM_STATUS"
        verbose_name = _("server status")
        verbose_name_plural = _("server status")
        ordering = ["server_type", "server_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(server_type__in=ServerType.values), name="%(app_label)s_%(class)s_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(status_code__in=ServerStatus.values), name="%(app_label)s_%(class)s_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(cpu_usage__gte=0, cpu_usage__lte=100, memory_usage__gte=0, memory_usage__lte=100),
                name="%(app_label)s_%(class)s_percent_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.server_id} ({self.server_type}): {self.status_code}"


class Monitoring(models.Model):
    """MONITORING (2.8): one platform-wide snapshot per point in time (the time is the key)."""

    monitoring_time = models.DateTimeField(_("time"), primary_key=True)
    total_conn_cnt = models.PositiveIntegerField(_("connections"))
    group_conn_cnt = models.PositiveIntegerField(_("groups with connections"))
    server_load_status = models.CharField(_("server load"), max_length=CODE_LENGTH, choices=LoadStatus.choices)
    network_status = models.CharField(_("network"), max_length=CODE_LENGTH, choices=NetworkStatus.choices)
    error_cnt = models.PositiveIntegerField(_("errors"))
    violation_cnt = models.PositiveIntegerField(_("violations"))

    class Meta:
        db_table = "MONITORING"
        verbose_name = _("monitoring snapshot")
        verbose_name_plural = _("monitoring snapshots")
        ordering = ["-monitoring_time"]

    def __str__(self) -> str:
        return f"{self.monitoring_time:%Y-%m-%d %H:%M:%S}"


class StdMessage(models.Model):
    """STD_MESSAGE (2.9): the catalogue of coded messages every error reply and notice uses.

    Rows are synchronised from monitoring.messages.CATALOG (the one source of the codes) by a
    migration; operators may edit the wording in the admin.
    """

    message_id = models.CharField(_("message ID"), max_length=ID_LENGTH, primary_key=True)
    message_type = models.CharField(_("type"), max_length=CODE_LENGTH, choices=MessageType.choices)
    source_type = models.CharField(_("source"), max_length=CODE_LENGTH, choices=SourceType.choices)
    category = models.CharField(_("category"), max_length=CODE_LENGTH, choices=MessageCategory.choices)
    message_code = models.CharField(_("code"), max_length=10, unique=True)
    message_name = models.CharField(_("name"), max_length=50)
    message_desc = models.CharField(_("description (Korean)"), max_length=200)
    # Addition: the English wording (the platform is Korean first, English available).
    message_desc_en = models.CharField(_("description (English)"), max_length=200, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "STD_MESSAGE"
        verbose_name = _("standard message")
        verbose_name_plural = _("standard messages")
        ordering = ["message_code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(message_type__in=MessageType.values), name="%(app_label)s_%(class)s_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(source_type__in=SourceType.values), name="%(app_label)s_%(class)s_source_valid"
            ),
            models.CheckConstraint(
                condition=Q(category__in=MessageCategory.values), name="%(app_label)s_%(class)s_category_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_code} {self.message_name}"
