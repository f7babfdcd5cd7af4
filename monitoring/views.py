"""Plain Django views of monitoring: the health check a load balancer polls."""

from django.http import HttpRequest, JsonResponse

from .selectors import platform_health_get


def health_view(request: HttpRequest) -> JsonResponse:
    """200 with each dependency's state when the database and Redis answer, 503 otherwise."""
    health = platform_health_get()
    return JsonResponse(health, status=200 if health["ok"] else 503)
