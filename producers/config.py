"""Tracker configuration: pydantic-settings, ``SHOPSTREAM_TRACKER_`` environment prefix.

Turned into client settings only at the backend boundary (producers/backends/).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class QueueFullPolicy(StrEnum):
    """What ``track()`` does when the in-memory queue is full."""

    DROP = "drop"
    """Count the event as dropped and call ``on_drop``; never wait."""
    BLOCK = "block"
    """Wait up to ``block_timeout_ms`` for room, then drop."""
    SPOOL = "spool"
    """Write the event to the on-disk spool (needs ``spool_dir``)."""


class TrackerConfig(BaseSettings):
    """Everything a :class:`~shopstream.producers.Tracker` needs; every field has a default."""

    model_config = SettingsConfigDict(env_prefix="SHOPSTREAM_TRACKER_", extra="forbid", frozen=True)

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices(
            "SHOPSTREAM_TRACKER_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS", "bootstrap_servers"
        ),
        description="Kafka bootstrap servers (KAFKA_BOOTSTRAP_SERVERS is honoured too).",
    )
    topic: str = Field(default="shop.events.raw", description="The raw events topic.")
    shop_id: str | None = Field(default=None, description="Default shop_id for the helper methods.")
    backend: Literal["confluent", "kafka-python"] = Field(
        default="confluent",
        description="confluent-kafka (librdkafka, default) or kafka-python (pure Python).",
    )
    queue_size: int = Field(
        default=10_000, ge=1, description="Events held in memory before the on_full policy applies."
    )
    on_full: QueueFullPolicy = Field(
        default=QueueFullPolicy.DROP, description="drop, block or spool."
    )
    block_timeout_ms: int = Field(
        default=50, ge=0, description="The longest a track() call waits under the block policy."
    )
    spool_dir: Path | None = Field(
        default=None, description="Folder of the on-disk spool; None disables spooling."
    )
    spool_max_bytes: int = Field(
        default=256 * 1024 * 1024, ge=1024, description="Size bound of the spool."
    )
    strict: bool = Field(
        default=False, description="Raise validation errors into the caller (development)."
    )
    exit_flush_timeout_s: float = Field(
        default=5.0, ge=0, description="Time budget of the flush at interpreter exit."
    )
    delivery_timeout_ms: int = Field(
        default=30_000,
        ge=1000,
        description="How long the client retries one event before it counts as failed (or is spooled).",
    )
    linger_ms: int = Field(default=5, ge=0, description="Batching delay of the client.")
    compression: Literal["none", "gzip", "lz4", "zstd", "snappy"] | None = Field(
        default=None, description="Compression; default zstd (confluent) or gzip (kafka-python)."
    )
    client_config: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Extra settings passed to the client library as they are."
    )

    @property
    def spooling(self) -> bool:
        return self.spool_dir is not None


__all__ = ["QueueFullPolicy", "TrackerConfig"]
