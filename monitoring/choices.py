"""Code tables of monitoring: server types (3.2), server and network states, message attributes."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ServerType(models.TextChoices):
    """SERVER_TYPE (3.2)."""

    WEB = "WEB", _("Web server")
    SOCKET = "SOCKET", _("Socket server")
    QUEUE = "QUEUE", _("Queue server")
    REDIS = "REDIS", _("Redis server")
    DATABASE = "DATABASE", _("Database server")
    FILE = "FILE", _("File server")


class ServerStatus(models.TextChoices):
    """SYSTEM_STATUS.STATUS_CODE: the specification names the field but not its codes."""

    UP = "UP", _("Up")
    DEGRADED = "DEGRADED", _("Degraded")
    DOWN = "DOWN", _("Down")


class NetworkStatus(models.TextChoices):
    """NETWORK_STATUS of SYSTEM_STATUS and MONITORING."""

    NORMAL = "NORMAL", _("Normal")
    DELAYED = "DELAYED", _("Delayed")
    UNREACHABLE = "UNREACHABLE", _("Unreachable")


class LoadStatus(models.TextChoices):
    """MONITORING.SERVER_LOAD_STATUS."""

    NORMAL = "NORMAL", _("Normal")
    HIGH = "HIGH", _("High")
    CRITICAL = "CRITICAL", _("Critical")


class MessageType(models.TextChoices):
    """STD_MESSAGE.MESSAGE_TYPE."""

    INFO = "INFO", _("Information")
    WARNING = "WARNING", _("Warning")
    ERROR = "ERROR", _("Error")


class SourceType(models.TextChoices):
    """STD_MESSAGE.SOURCE_TYPE (발신 주체)."""

    CLIENT = "CLIENT", _("Client")
    SERVER = "SERVER", _("Server")


class MessageCategory(models.TextChoices):
    """STD_MESSAGE.CATEGORY."""

    AUTH = "AUTH", _("Authentication")
    VALIDATION = "VALIDATION", _("Validation")
    ANSWER = "ANSWER", _("Answer")
    EXAM = "EXAM", _("Exam")
    SOCKET = "SOCKET", _("Socket")
    MEDIA = "MEDIA", _("Media")
    IMPORT = "IMPORT", _("Import")
    SYSTEM = "SYSTEM", _("System")
