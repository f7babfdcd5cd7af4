"""Code tables of proctoring: sockets (3.3, 3.4), user types, violations and media."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class SocketStatusCode(models.TextChoices):
    """SOCKET_STATUS_CODE (3.3)."""

    CONNECTED = "CONNECTED", _("Connected")
    DISCONNECTED = "DISCONNECTED", _("Disconnected")
    IDLE = "IDLE", _("Idle")
    ERROR = "ERROR", _("Error")


class SocketEventType(models.TextChoices):
    """SOCKET_EVENT_TYPE (3.4)."""

    CONNECT = "CONNECT", _("Connect")
    DISCONNECT = "DISCONNECT", _("Disconnect")
    HEARTBEAT = "HEARTBEAT", _("Heartbeat")
    ERROR = "ERROR", _("Error")
    FORCE_CLOSE = "FORCE_CLOSE", _("Force close")
    RECONNECT = "RECONNECT", _("Reconnect")


class UserType(models.TextChoices):
    """SOCKET_SESSION.USER_TYPE: who is on the other end of a socket."""

    EXAMINEE = "EXAMINEE", _("Examinee")
    SUPERVISOR = "SUPERVISOR", _("Supervisor")
    OPERATOR = "OPERATOR", _("Operator")


class ViolationType(models.TextChoices):
    """VIOLATION.VIOLATION_TYPE_CODE: what a browser or a supervisor can detect (부정행위 유형)."""

    FOCUS_LOST = "FOCUS_LOST", _("Window lost focus")
    TAB_HIDDEN = "TAB_HIDDEN", _("Exam tab hidden")
    FULLSCREEN_EXIT = "FULLSCREEN_EXIT", _("Left full screen")
    COPY_PASTE = "COPY_PASTE", _("Copy or paste")
    NO_FACE = "NO_FACE", _("No face on webcam")
    MULTIPLE_FACES = "MULTIPLE_FACES", _("Several faces on webcam")
    PHONE_DETECTED = "PHONE_DETECTED", _("Phone detected")
    VOICE_DETECTED = "VOICE_DETECTED", _("Voice detected")
    SCREEN_SHARE_STOP = "SCREEN_SHARE_STOP", _("Screen sharing stopped")
    WEBCAM_STOP = "WEBCAM_STOP", _("Webcam stopped")
    MULTIPLE_LOGIN = "MULTIPLE_LOGIN", _("Signed in from another device")
    SUPERVISOR_REPORT = "SUPERVISOR_REPORT", _("Reported by supervisor")


class MediaType(models.TextChoices):
    """Addition: the capture streams of the data flow (seed 000: webcam, screen, phone camera, audio)."""

    WEBCAM = "WEBCAM", _("Webcam")
    SCREEN = "SCREEN", _("Screen")
    MOBILE = "MOBILE", _("Phone camera")
    AUDIO = "AUDIO", _("Audio")


class MediaStatus(models.TextChoices):
    """Addition: where a capture is on its way from the media queue to permanent storage."""

    QUEUED = "QUEUED", _("Queued")
    STORED = "STORED", _("Stored")
    FAILED = "FAILED", _("Failed")
