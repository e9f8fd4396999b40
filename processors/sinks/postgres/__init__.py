"""PostgreSQL sink: the per-buyer features as a serving table and an append-only history.

``shopstream sink postgres --dsn DSN``; see docs/sinks.md for the tables and guarantees.
"""

from shopstream.processors.sinks.postgres.errors import (
    MigrationError,
    PostgresSinkError,
    WriteError,
)
from shopstream.processors.sinks.postgres.run import (
    masked_dsn,
    postgres_sink_runner,
    run_postgres_sink,
)
from shopstream.processors.sinks.postgres.schema import load_migrations, migrate
from shopstream.processors.sinks.postgres.writer import PostgresFeaturesWriter

__all__ = [
    "MigrationError",
    "PostgresFeaturesWriter",
    "PostgresSinkError",
    "WriteError",
    "load_migrations",
    "masked_dsn",
    "migrate",
    "postgres_sink_runner",
    "run_postgres_sink",
]
