"""Errors of the PostgreSQL sink: one root, one subclass per phase."""

from __future__ import annotations

from shopstream.processors.sinks.base import SinkError


class PostgresSinkError(SinkError):
    """Root of every error raised by :mod:`shopstream.processors.sinks.postgres`."""


class MigrationError(PostgresSinkError):
    """The schema migrations cannot be applied: a bad file, a changed applied file, a failure."""


class WriteError(PostgresSinkError):
    """A batch could not be written; nothing of it was (its transaction rolled back).

    ``topic``, ``partition``, ``first_offset`` and ``last_offset`` name the batch.
    """

    def __init__(
        self, message: str, *, topic: str, partition: int, first_offset: int, last_offset: int
    ) -> None:
        super().__init__(message)
        self.topic = topic
        self.partition = partition
        self.first_offset = first_offset
        self.last_offset = last_offset


__all__ = ["MigrationError", "PostgresSinkError", "WriteError"]
