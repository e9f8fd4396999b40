"""The Parquet sink: clean events and buyer features as Hive-partitioned Parquet datasets.

Layout, Arrow mapping and crash-safety argument: docs/sinks.md.
"""

from shopstream.processors.sinks.parquet.arrow import arrow_schema
from shopstream.processors.sinks.parquet.errors import ArrowMappingError, ParquetSinkError
from shopstream.processors.sinks.parquet.sink import ParquetSink, run_parquet_sink
from shopstream.processors.sinks.parquet.writer import ParquetWriter

__all__ = [
    "ArrowMappingError",
    "ParquetSink",
    "ParquetSinkError",
    "ParquetWriter",
    "arrow_schema",
    "run_parquet_sink",
]
