"""URL wiring: the operator admin, the health check, the API and the examinee pages."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from monitoring.views import health_view

admin.site.site_header = _("Online exam operations")
admin.site.site_title = _("Exam operations")
admin.site.index_title = _("Operator console")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health_view, name="health"),
    path("api/v1/", include("answers.api.urls")),
    path("api/v1/operator/", include("plans.api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("answers.urls")),
]
if settings.DEBUG:
    # `make run` serves the collected static files itself (daphne serves none); production uses a web server.
    urlpatterns += static(settings.STATIC_URL, document_root=settings.STATIC_ROOT)
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
