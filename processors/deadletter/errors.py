"""Errors of the dead-letter package: one root, one subclass per phase."""

from __future__ import annotations

from shopstream.processors.errors import ProcessorError


class DeadLetterError(ProcessorError):
    """Root of every error raised by :mod:`shopstream.processors.deadletter`."""


class DeadLetterKeyError(DeadLetterError):
    """No dead-letter key, a malformed one, or one that does not open a sealed payload.

    The message says which and is safe to show a user as is: it never holds key material.
    """


class DeadLetterDecodeError(DeadLetterError):
    """Bytes are not a dead letter (or a sealed payload is cut short); ``raw`` holds them."""

    def __init__(self, message: str, *, raw: bytes) -> None:
        super().__init__(message)
        self.raw = raw


class DeadLetterTopicError(DeadLetterError):
    """The cluster could not be read from or written to: unreachable, missing topic, refused."""


__all__ = [
    "DeadLetterDecodeError",
    "DeadLetterError",
    "DeadLetterKeyError",
    "DeadLetterTopicError",
]
