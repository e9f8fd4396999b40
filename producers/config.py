"""Tracker configuration: pydantic-settings, ``SHOPSTREAM_TRACKER_`` environment prefix.

Turned into client settings only at the backend boundary (producers/backends/).
A ``SHOPSTREAM_TRACKER_*`` variable that names no setting is an error, with the nearest
setting suggested: pydantic-settings would ignore it, and a misspelt ``SPOOL_DIR``
would silently run without the spool.
"""

from __future__ import annotations

import difflib
import os
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "SHOPSTREAM_TRACKER_"


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

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

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

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_variables(cls, data: Any) -> Any:
        """A misspelt variable is an error, not a setting silently left at its default."""
        unknown = unknown_variables(os.environ)
        if unknown:
            raise ValueError(f"unknown tracker settings in the environment: {'; '.join(unknown)}")
        return data


def unknown_variables(environ: Any) -> list[str]:
    """Each ``SHOPSTREAM_TRACKER_*`` name in ``environ`` that is no setting, with a suggestion."""
    known = [name.upper() for name in TrackerConfig.model_fields]
    found = []
    for name in sorted(environ):
        upper = name.upper()  # pydantic-settings matches names case-insensitively
        if not upper.startswith(ENV_PREFIX) or upper[len(ENV_PREFIX) :] in known:
            continue
        close = difflib.get_close_matches(upper[len(ENV_PREFIX) :], known, n=1, cutoff=0.7)
        found.append(f"{name} (did you mean {ENV_PREFIX}{close[0]}?)" if close else name)
    return found


__all__ = ["ENV_PREFIX", "QueueFullPolicy", "TrackerConfig", "unknown_variables"]
