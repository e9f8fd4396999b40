"""Errors of the per-buyer aggregate: one root, one subclass per kind of misuse.

``apply_event`` does not raise on the values of a clean event (stage 1 validated them);
these errors are for state that cannot be read, settings that cannot work, and a state
handed an event of another buyer or another aggregate currency.
"""

from __future__ import annotations

from typing import Any

from shopstream.processors.errors import ProcessorError


class AggregateError(ProcessorError):
    """Root of every error raised by :mod:`shopstream.processors.aggregate`."""


class AggregateSettingsError(AggregateError, ValueError):
    """An :class:`AggregateSettings` value the aggregate cannot work with."""


class StateFormatError(AggregateError, ValueError):
    """A stored state is not a state of a known format version; ``stored`` is what was read."""

    def __init__(self, message: str, stored: Any = None) -> None:
        super().__init__(message)
        self.stored = stored


class StateMismatchError(AggregateError, ValueError):
    """The event or the settings belong to another aggregate than the state.

    Another buyer or shop (the caller keyed the store wrongly) or another aggregate
    currency (the settings changed under existing state); ``record`` is the event, if any.
    """

    def __init__(self, message: str, record: Any = None) -> None:
        super().__init__(message)
        self.record = record


__all__ = ["AggregateError", "AggregateSettingsError", "StateFormatError", "StateMismatchError"]
