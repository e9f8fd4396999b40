"""The PostgreSQL sink assembled: migrations, the writer, the shared runner."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from shopstream.processors.engine.aggregate_app import features_codec
from shopstream.processors.sinks.base import Batch, SinkRunner, SinkStats, codec_decoder
from shopstream.processors.sinks.postgres.schema import migrate
from shopstream.processors.sinks.postgres.writer import PostgresFeaturesWriter

log = logging.getLogger(__name__)

FEATURES_TOPIC = "shop.buyers.features"
GROUP = "shopstream-sink-postgres"


def masked_dsn(dsn: str) -> str:
    """The DSN with its password (if any) replaced by ``***``, fit for a log line."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        return "<unparsable DSN>"
    if params.get("password"):
        params["password"] = "***"  # noqa: S105 - the mask, not a password
    return make_conninfo("", **params)


def postgres_sink_runner(
    bootstrap_servers: str,
    dsn: str,
    *,
    topic: str = FEATURES_TOPIC,
    group: str = GROUP,
    apply_migrations: bool = True,
    batch_size: int = 5_000,
    batch_interval_s: float = 2.0,
    kafka_config: Mapping[str, Any] | None = None,
    on_batch: Callable[[Batch], None] | None = None,
) -> SinkRunner:
    """A runner reading ``topic`` (read_committed) into the database at ``dsn``.

    With ``apply_migrations``, pending migrations are applied first. Call ``run()`` on it,
    and ``stop()`` (from a signal handler, say) to finish the current batches and return.
    """
    if apply_migrations:
        applied = migrate(dsn)
        for migration in applied:
            log.info("applied migration %04d_%s", migration.version, migration.name)
    writer = PostgresFeaturesWriter(dsn)
    return SinkRunner(
        bootstrap_servers,
        [topic],
        writer,
        codec_decoder({topic: features_codec()}),
        group=group,
        batch_size=batch_size,
        batch_interval_s=batch_interval_s,
        kafka_config=kafka_config,
        on_batch=on_batch,
    )


def run_postgres_sink(
    bootstrap_servers: str,
    dsn: str,
    *,
    until_caught_up: bool = True,
    idle_timeout_s: float = 5.0,
    topic: str = FEATURES_TOPIC,
    group: str = GROUP,
    apply_migrations: bool = True,
    batch_size: int = 5_000,
    batch_interval_s: float = 2.0,
    kafka_config: Mapping[str, Any] | None = None,
) -> SinkStats:
    """Run the sink in this thread; by default until the topic is read to its end."""
    runner = postgres_sink_runner(
        bootstrap_servers,
        dsn,
        topic=topic,
        group=group,
        apply_migrations=apply_migrations,
        batch_size=batch_size,
        batch_interval_s=batch_interval_s,
        kafka_config=kafka_config,
    )
    return runner.run(until_caught_up=until_caught_up, idle_timeout_s=idle_timeout_s)


__all__ = [
    "FEATURES_TOPIC",
    "GROUP",
    "masked_dsn",
    "postgres_sink_runner",
    "run_postgres_sink",
]
