"""ASGI entry point: HTTP goes to Django, WebSocket to the Channels routers of the socket apps.

The sockets get their cookies but no session and no `scope["user"]`: the exam socket
authenticates by its examinee token (in its URL, else in the cookie the sign-in set), and channels'
AuthMiddleware would look the session's user up in the database before every accept, which made
connects time out under an exam-start herd (docs/benchmarks.md). A socket route that needs the
Django user wraps itself in SessionMiddlewareStack and AuthMiddleware.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exam_platform.settings.local")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from channels.sessions import CookieMiddleware  # noqa: E402
from django.conf import settings  # noqa: E402

from exam_platform.routing import websocket_urlpatterns  # noqa: E402
from exam_platform.runtime import gc_tune  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(CookieMiddleware(URLRouter(websocket_urlpatterns))),
    }
)

gc_tune(threshold=settings.ASGI_GC_THRESHOLD)  # last: what is alive now is frozen out of the collector
