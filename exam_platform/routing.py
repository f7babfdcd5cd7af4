"""WebSocket routes of every socket app, gathered in one list."""

websocket_urlpatterns: list = []
