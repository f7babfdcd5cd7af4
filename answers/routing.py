from django.urls import path

from .consumers import ExamConsumer

websocket_urlpatterns = [path("ws/exam/", ExamConsumer.as_asgi())]
