"""WebSocket routes of every socket app, gathered in one list."""

from answers.routing import websocket_urlpatterns as answer_routes

websocket_urlpatterns = [*answer_routes]
