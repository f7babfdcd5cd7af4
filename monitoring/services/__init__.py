"""Writes of monitoring, split by sub-domain: messages (STD_MESSAGE) and client_logs (the log queue)."""

from .messages import std_message_sync

__all__ = ["std_message_sync"]
