"""Sinks: land the clean events and the per-buyer features where feature extraction starts."""

from shopstream.processors.sinks.base import (
    Batch,
    SinkError,
    SinkRecord,
    SinkRunner,
    SinkStats,
    SinkWriter,
    codec_decoder,
)

__all__ = [
    "Batch",
    "SinkError",
    "SinkRecord",
    "SinkRunner",
    "SinkStats",
    "SinkWriter",
    "codec_decoder",
]
