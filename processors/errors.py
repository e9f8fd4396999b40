"""The root of every error raised by :mod:`shopstream.processors`."""

from __future__ import annotations


class ProcessorError(Exception):
    """Root of the processors package's errors; each phase subclasses it."""


__all__ = ["ProcessorError"]
