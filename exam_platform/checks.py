"""System checks of the platform's own settings.

MIDDLEWARE names the platform's subclasses of Django's middleware (exam_platform.middleware), but
Django's security checks recognise its middleware by dotted path. So:
- security.W001, W002 and W003 ("the middleware is missing") are silenced in the settings and
  replaced by exam_platform.W001-W003, which look for Django's classes or a subclass;
- the deploy checks Django skips when it does not see its middleware (HSTS, nosniff, SSL redirect,
  framing, referrer and opener policies, secure CSRF cookie) are run here with MIDDLEWARE read as
  the Django classes its entries subclass, so they report under their own IDs, once.
"""

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register
from django.core.checks.security import base, csrf
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware
from django.test.utils import override_settings
from django.utils.module_loading import import_string

# (Django's class, the platform's check ID, the Django check it replaces, what goes missing)
REQUIRED_MIDDLEWARE = (
    (SecurityMiddleware, "exam_platform.W001", "security.W001", "HSTS, nosniff, referrer and SSL redirect headers"),
    (XFrameOptionsMiddleware, "exam_platform.W002", "security.W002", "the X-Frame-Options header"),
    (CsrfViewMiddleware, "exam_platform.W003", "security.W003", "cross-site request forgery protection"),
)
# Django's deploy checks that stay silent unless MIDDLEWARE names its classes by path.
CHECKS_GATED_ON_MIDDLEWARE_PATH = (
    base.check_sts,
    base.check_sts_include_subdomains,
    base.check_sts_preload,
    base.check_content_type_nosniff,
    base.check_ssl_redirect,
    base.check_xframe_deny,
    base.check_referrer_policy,
    base.check_cross_origin_opener_policy,
    csrf.check_csrf_cookie_secure,
)


def _middleware_classes() -> list[type]:
    return [cls for cls in (import_string(path) for path in settings.MIDDLEWARE) if isinstance(cls, type)]


def django_path(cls: type) -> str:
    """The dotted path of the Django class `cls` is or subclasses (its own path if none)."""
    for ancestor in cls.__mro__:
        if ancestor.__module__.startswith("django."):
            return f"{ancestor.__module__}.{ancestor.__qualname__}"
    return f"{cls.__module__}.{cls.__qualname__}"


@register(Tags.security, deploy=True)
def required_middleware_check(app_configs: object = None, **kwargs: object) -> list[CheckMessage]:
    """A warning for each of Django's protective middleware that no entry of MIDDLEWARE is or subclasses."""
    classes = _middleware_classes()
    return [
        Warning(
            f"No middleware in MIDDLEWARE is or subclasses {cls.__module__}.{cls.__qualname__}, so {what} "
            f"will be missing (Django's {django_id}, silenced in favour of this check).",
            id=check_id,
        )
        for cls, check_id, django_id, what in REQUIRED_MIDDLEWARE
        if not any(issubclass(entry, cls) for entry in classes)
    ]


@register(Tags.security, deploy=True)
def django_middleware_settings_check(app_configs: object = None, **kwargs: object) -> list[CheckMessage]:
    """Django's middleware-gated deploy checks, run with MIDDLEWARE read as the Django classes it subclasses."""
    with override_settings(MIDDLEWARE=[django_path(cls) for cls in _middleware_classes()]):
        return [message for check in CHECKS_GATED_ON_MIDDLEWARE_PATH for message in check(app_configs)]
