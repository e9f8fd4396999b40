"""Errors of the Parquet sink."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shopstream.processors.sinks.base import SinkError


class ParquetSinkError(SinkError):
    """Root of the Parquet sink's errors."""


class ArrowMappingError(ParquetSinkError):
    """An Avro schema construct with no Arrow counterpart here (a union of two non-null types)."""

    def __init__(self, message: str, *, avro_type: Any = None) -> None:
        super().__init__(message)
        self.avro_type = avro_type


class DatasetLockedError(ParquetSinkError):
    """Another sink process writes this output folder."""

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message)
        self.path = path


class OffsetsWentBackError(ParquetSinkError):
    """A batch starts below the partition's recorded progress: the topic was recreated or
    the folder belongs to another cluster. Writing would break the file naming."""

    def __init__(self, message: str, *, topic: str, partition: int, offset: int) -> None:
        super().__init__(message)
        self.topic = topic
        self.partition = partition
        self.offset = offset
