"""Writes of the plans app, split by sub-domain: access (credentials), roster (people), lifecycle (states)."""
