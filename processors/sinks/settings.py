"""Settings of the sinks: pydantic-settings, ``SHOPSTREAM_`` environment prefix.

The Kafka and topic settings carry the same names (and environment variables) as the
stages' (:mod:`shopstream.processors.engine.settings`), so one environment configures
the whole pipeline; each sink adds its own settings beside them.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SinkSettings(BaseSettings):
    """What every sink shares: where Kafka is, the topics it reads, its consumer group."""

    model_config = SettingsConfigDict(env_prefix="SHOPSTREAM_", extra="forbid", frozen=True)

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices(
            "SHOPSTREAM_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS", "bootstrap_servers"
        ),
        description="Kafka bootstrap servers (KAFKA_BOOTSTRAP_SERVERS is honoured too).",
    )
    clean_topic: str = Field(default="shop.events.clean", description="Pseudonymised events.")
    features_topic: str = Field(
        default="shop.buyers.features", description="Per-buyer aggregates (compacted)."
    )
    sink_group: str | None = Field(
        default=None,
        description="Consumer group of the sink (offsets committed for monitoring only: the destination keeps its own progress). Default: shopstream-sink-<sink>.",
    )
    batch_size: int = Field(
        default=5_000, ge=1, description="Messages of one partition written together at most."
    )
    batch_interval_s: float = Field(
        default=2.0, gt=0, description="Seconds a partition's batch may wait before it is written."
    )
    kafka_config: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="librdkafka settings the sink's consumer gets (security.protocol, sasl.*, ssl.*).",
    )

    def group(self, sink: str) -> str:
        """The consumer group of ``sink`` (``parquet``, ``postgres``)."""
        return self.sink_group or f"shopstream-sink-{sink}"


class ParquetSinkSettings(SinkSettings):
    """The Parquet sink (``shopstream sink parquet``)."""

    compact_every: int = Field(
        default=16,
        ge=2,
        description="Compact a directory once it holds this many small files of one topic partition.",
    )
    compact_max_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1,
        description="Files at least this large are left as they are by compaction.",
    )
    latest_interval_s: float = Field(
        default=0.0,
        ge=0,
        description="Rewrite the features/latest snapshots at most this often (0: after every features batch).",
    )
    fsync: bool = Field(
        default=True,
        description="fsync files and directories before they count as written (survives power loss, not only kill -9).",
    )


__all__ = ["ParquetSinkSettings", "SinkSettings"]
