"""Writes of the answers app: protocol (parse and validate), sync (Redis), flush (database), recovery."""
