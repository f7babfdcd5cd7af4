"""The ASGI application of the browser tests: the real one, plus the static files.

Settings.test runs with DEBUG off, so Django serves no static files, and the pages need
static/exam/. Django's ASGIStaticFilesHandler (what `runserver` uses) serves them from the
finders and hands everything else, WebSockets included, to the real application.
"""

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

from exam_platform.asgi import application as platform_application

application = ASGIStaticFilesHandler(platform_application)
