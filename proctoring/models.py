"""Proctoring tables of ../shared/seeds/003_0917053a83c69344.txt (2.5 VIOLATION, 2.11 SOCKET_SESSION)
and the media-capture record the data flow (seed 000) needs for webcam, screen, phone and audio files.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from plans.models import CODE_LENGTH, ID_LENGTH, Examinee, TestGroup, TestPlan

from .choices import MediaStatus, MediaType, SocketStatusCode, UserType, ViolationType


class Violation(models.Model):
    """VIOLATION (2.5): one suspected cheating event of an examinee.

    The specification has no key; a surrogate `id` identifies a row (several events of one type
    may happen in the same second).
    """

    examinee = models.ForeignKey(
        Examinee, verbose_name=_("examinee"), on_delete=models.CASCADE, related_name="violations"
    )
    group = models.ForeignKey(TestGroup, verbose_name=_("group"), on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(TestPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="+")
    violation_type_code = models.CharField(_("violation type"), max_length=CODE_LENGTH, choices=ViolationType.choices)
    occurrence_datetime = models.DateTimeField(_("occurred at"))

    class Meta:
        db_table = "VIOLATION"
        verbose_name = _("violation")
        verbose_name_plural = _("violations")
        ordering = ["-occurrence_datetime"]
        indexes = [
            models.Index(fields=["plan", "group", "occurrence_datetime"], name="violation_group_time_idx"),
            models.Index(fields=["examinee", "occurrence_datetime"], name="violation_examinee_time_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(violation_type_code__in=ViolationType.values), name="%(app_label)s_%(class)s_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.examinee_id} {self.violation_type_code} {self.occurrence_datetime:%H:%M:%S}"


class SocketSession(models.Model):
    """SOCKET_SESSION (2.11): one WebSocket connection of an examinee, supervisor or operator."""

    socket_id = models.CharField(_("socket ID"), max_length=ID_LENGTH, primary_key=True)
    plan = models.ForeignKey(TestPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(TestGroup, verbose_name=_("group"), on_delete=models.CASCADE, related_name="+")
    user_type = models.CharField(_("user type"), max_length=CODE_LENGTH, choices=UserType.choices)
    user_id = models.CharField(_("user ID"), max_length=ID_LENGTH)
    conn_time = models.DateTimeField(_("connected at"))
    last_heartbeat = models.DateTimeField(_("last heartbeat"))
    client_ip = models.CharField(_("client IP"), max_length=50)
    os_info = models.CharField(_("OS"), max_length=200)
    browser_info = models.CharField(_("browser"), max_length=200)
    screen_info = models.CharField(_("screen"), max_length=100)
    session_status = models.CharField(
        _("session status"),
        max_length=CODE_LENGTH,
        choices=SocketStatusCode.choices,
        default=SocketStatusCode.CONNECTED,
    )

    class Meta:
        db_table = "SOCKET_SESSION"
        verbose_name = _("socket session")
        verbose_name_plural = _("socket sessions")
        ordering = ["-conn_time"]
        indexes = [
            models.Index(fields=["plan", "group", "session_status"], name="socket_group_status_idx"),
            models.Index(fields=["user_type", "user_id"], name="socket_user_idx"),
            models.Index(fields=["session_status", "last_heartbeat"], name="socket_heartbeat_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(session_status__in=SocketStatusCode.values), name="%(app_label)s_%(class)s_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(user_type__in=UserType.values), name="%(app_label)s_%(class)s_user_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_type} {self.user_id} ({self.socket_id})"


def media_upload_to(instance: "MediaCapture", filename: str) -> str:
    """Files are laid out by plan, group, examinee and type, so an operator can find and purge them."""
    return (
        f"media/{instance.plan_id}/{instance.group_id}/{instance.examinee_id}/{instance.media_type.lower()}/{filename}"
    )


class MediaCapture(models.Model):
    """Addition: one webcam, screen, phone-camera or audio capture file of an examinee (seed 000).

    The file itself is in media storage (django-storages); the row records what arrived, its
    size and hash, and whether it reached permanent storage.
    """

    examinee = models.ForeignKey(Examinee, verbose_name=_("examinee"), on_delete=models.CASCADE, related_name="media")
    group = models.ForeignKey(TestGroup, verbose_name=_("group"), on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(TestPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="+")
    media_type = models.CharField(_("media type"), max_length=CODE_LENGTH, choices=MediaType.choices)
    file = models.FileField(_("file"), upload_to=media_upload_to, max_length=255, blank=True)
    content_type = models.CharField(_("content type"), max_length=100)
    size_bytes = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    captured_at = models.DateTimeField(_("captured at"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    status = models.CharField(
        _("status"), max_length=CODE_LENGTH, choices=MediaStatus.choices, default=MediaStatus.QUEUED
    )

    class Meta:
        db_table = "MEDIA_CAPTURE"
        verbose_name = _("media capture")
        verbose_name_plural = _("media captures")
        ordering = ["-captured_at"]
        indexes = [models.Index(fields=["examinee", "media_type", "captured_at"], name="media_examinee_time_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["examinee", "media_type", "sha256"], name="%(app_label)s_%(class)s_unique_content"
            ),
            models.CheckConstraint(
                condition=Q(media_type__in=MediaType.values), name="%(app_label)s_%(class)s_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=MediaStatus.values), name="%(app_label)s_%(class)s_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.examinee_id} {self.media_type} {self.captured_at:%H:%M:%S}"
