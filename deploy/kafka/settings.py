"""Where the launcher keeps jars and state, and which cluster to use, read from the environment."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The Kafka release the launcher runs (`org.apache.kafka:kafka_2.13` on Maven Central).
KAFKA_VERSION = "4.4.0"


class LauncherSettings(BaseSettings):
    """Environment of the launcher.

    - `SHOPSTREAM_CACHE_DIR`: root of downloaded jars (default `$XDG_CACHE_HOME/shopstream`).
    - `SHOPSTREAM_STATE_DIR`: state of the detached broker (default
      `$XDG_STATE_HOME/shopstream/kafka`).
    - `SHOPSTREAM_KAFKA_VERSION`: Kafka release to run.
    - `KAFKA_BOOTSTRAP_SERVERS`: an existing cluster; when set, nothing is started.
    """

    model_config = SettingsConfigDict(env_prefix="SHOPSTREAM_", extra="forbid", frozen=True)

    cache_dir: Path | None = None
    state_dir: Path | None = None
    kafka_version: str = KAFKA_VERSION
    external_bootstrap_servers: str | None = Field(
        default=None, validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )

    @field_validator("external_bootstrap_servers", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    def kafka_cache_dir(self, version: str | None = None) -> Path:
        """The folder holding one Kafka release's jars: `<cache>/kafka/<version>`."""
        root = self.cache_dir or _xdg("XDG_CACHE_HOME", ".cache") / "shopstream"
        return root.expanduser().absolute() / "kafka" / (version or self.kafka_version)

    def kafka_state_dir(self) -> Path:
        """The folder of the detached local broker: data dir, pid file and ports."""
        default = _xdg("XDG_STATE_HOME", ".local/state") / "shopstream" / "kafka"
        return (self.state_dir or default).expanduser().absolute()


def _xdg(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable, "").strip()
    # The XDG spec says relative values are invalid and must be ignored.
    if value and Path(value).is_absolute():
        return Path(value)
    return Path.home() / fallback


__all__ = [
    "KAFKA_VERSION",
    "LauncherSettings",
]
