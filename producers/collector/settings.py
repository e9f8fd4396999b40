"""Collector settings: pydantic-settings, ``SHOPSTREAM_COLLECTOR_`` environment prefix.

The tracker the collector produces through keeps its own settings and environment
(``SHOPSTREAM_TRACKER_*``, see :class:`~shopstream.producers.TrackerConfig`), nested
here as ``tracker``: one variable per setting, the same one a shop site's SDK reads.
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shopstream.producers.config import TrackerConfig

MIB = 1024 * 1024
ENV_PREFIX = "SHOPSTREAM_COLLECTOR_"


class CollectorSettings(BaseSettings):
    """Everything ``shopstream collector`` needs; every field has a default."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    host: str = Field(default="127.0.0.1", description="Interface to listen on.")
    port: int = Field(default=8088, ge=0, le=65535, description="TCP port to listen on.")
    max_body_bytes: int = Field(
        default=MIB,
        ge=1024,
        description="Largest request body, counted as received and again after gzip decoding.",
    )
    max_events_per_batch: int = Field(
        default=500, ge=1, description="Most events in one request (more: 413, nothing accepted)."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Browser origins allowed to post events (comma-separated in the "
        "environment; '*' allows any); empty disables CORS.",
    )
    retry_after_s: int = Field(
        default=5, ge=1, description="Retry-After of a 503 (spool full or queue would drop)."
    )
    readiness_timeout_s: float = Field(
        default=1.0, gt=0, le=10, description="How long /readyz waits for the broker's metadata."
    )
    tracker: TrackerConfig = Field(
        default_factory=TrackerConfig,
        description="The tracker events are produced through (SHOPSTREAM_TRACKER_* variables).",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)  # a JSON list, as pydantic-settings writes lists
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_variables(cls, data: Any) -> Any:
        """A misspelt variable is an error, not a setting silently left at its default."""
        known = {f"{ENV_PREFIX}{name}".upper() for name in cls.model_fields}
        unknown = sorted(
            name
            for name in os.environ
            if name.upper().startswith(ENV_PREFIX) and name.upper() not in known
        )
        if unknown:
            raise ValueError(f"unknown collector settings in the environment: {', '.join(unknown)}")
        return data


__all__ = ["CollectorSettings"]
