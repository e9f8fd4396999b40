"""Errors of the producer SDK. By default none of them reaches the shop's code: the
tracker counts and reports them; ``strict=True`` raises them (for development)."""

from __future__ import annotations

from typing import Any


class TrackerError(Exception):
    """Root of every error raised by :mod:`shopstream.producers`."""


class EventRejectedError(TrackerError):
    """An event failed validation. ``errors`` name the fields and rules, never the values."""

    def __init__(self, event_type: str, errors: list[dict[str, Any]]) -> None:
        where = ", ".join(f"{e['field']}: {e['rule']}" for e in errors[:5])
        super().__init__(f"{event_type} event rejected: {where}")
        self.event_type = event_type
        self.errors = errors


class SpoolFullError(TrackerError):
    """The on-disk spool has reached its size bound."""


class BackendUnavailableError(TrackerError):
    """The selected client library is not installed."""


__all__ = ["BackendUnavailableError", "EventRejectedError", "SpoolFullError", "TrackerError"]
