"""Settings of the PostgreSQL sink (``SHOPSTREAM_`` environment prefix)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from shopstream.processors.sinks.settings import SinkSettings


class PostgresSinkSettings(SinkSettings):
    """The PostgreSQL sink (``shopstream sink postgres``)."""

    postgres_dsn: SecretStr = Field(
        description="libpq connection string or postgresql:// URI of the database (holds the password: kept secret, logged masked).",
    )
    postgres_migrate: bool = Field(
        default=True,
        description="Apply pending schema migrations when the sink starts (off: run `shopstream sink postgres migrate` first).",
    )


__all__ = ["PostgresSinkSettings"]
