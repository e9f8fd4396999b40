"""The database schema: versioned SQL files ``migrations/NNNN_name.sql``, applied in order.

Each file runs in its own transaction together with its row in ``shopstream_migrations``
(version, name, checksum, applied_at), so a crash leaves a migration applied and recorded,
or neither. A file already applied must not change: its SHA-256 is compared with the
recorded one, and a difference is an error, never re-applied. Two sinks starting at once
serialise on an advisory lock.

:func:`load_migrations` and :func:`pending_migrations` are pure; :func:`migrate` is the
database side.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import psycopg
from psycopg.rows import TupleRow

from shopstream.processors.sinks.postgres.errors import MigrationError

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any fixed number will do; it only has to be the same for every shopstream process.
_LOCK_ID = 0x5350_4D49  # "SPMI"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str = field(repr=False)
    checksum: str
    """SHA-256 of the file's bytes, hex."""


@dataclass(frozen=True)
class AppliedMigration:
    version: int
    name: str
    checksum: str


def load_migrations(directory: Path | Traversable | None = None) -> list[Migration]:
    """The migration files in ``directory`` (default: the shipped ones), by version.

    Every ``.sql`` file must be named ``NNNN_name.sql`` and versions must be unique.
    """
    folder = directory or resources.files(__package__ or __name__).joinpath("migrations")
    found: dict[int, Migration] = {}
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise MigrationError(f"migration file {entry.name!r} is not named NNNN_name.sql")
        data = entry.read_bytes()
        migration = Migration(
            version=int(match[1]),
            name=match[2],
            sql=data.decode("utf-8"),
            checksum=hashlib.sha256(data).hexdigest(),
        )
        if migration.version in found:
            raise MigrationError(
                f"migration version {migration.version:04d} is used twice "
                f"({found[migration.version].name}, {migration.name})"
            )
        found[migration.version] = migration
    return [found[version] for version in sorted(found)]


def pending_migrations(
    available: Iterable[Migration], applied: Mapping[int, AppliedMigration]
) -> list[Migration]:
    """The migrations still to apply, in order, after checking the ones already applied.

    Errors: an applied file whose content changed; an applied version this code does not
    have (the database is newer than the code); a pending version below an applied one
    (a file inserted into the past would never run where the later ones already did).
    """
    known = {m.version: m for m in available}
    for version, record in sorted(applied.items()):
        migration = known.get(version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {version:04d}_{record.name}, which this version "
                "of shopstream does not know: run a newer shopstream"
            )
        if migration.checksum != record.checksum:
            raise MigrationError(
                f"migration {version:04d}_{migration.name} was changed after it was applied "
                f"(checksum {migration.checksum[:12]}, applied {record.checksum[:12]}); "
                "add a new migration instead of editing an applied one"
            )
    pending = [known[v] for v in sorted(known) if v not in applied]
    latest = max(applied, default=0)
    for migration in pending:
        if migration.version < latest:
            raise MigrationError(
                f"migration {migration.version:04d}_{migration.name} is older than "
                f"{latest:04d}, which is already applied: give it a higher number"
            )
    return pending


def migrate(dsn: str, migrations: Iterable[Migration] | None = None) -> list[Migration]:
    """Apply the pending migrations to the database at ``dsn``; return those applied now."""
    todo = list(load_migrations() if migrations is None else migrations)
    applied_now: list[Migration] = []
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            # A session lock: released by the server if this process dies holding it.
            conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS shopstream_migrations ("
                " version integer PRIMARY KEY,"
                " name text NOT NULL,"
                " checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for migration in pending_migrations(todo, applied_migrations(conn)):
                with conn.transaction():
                    conn.execute(migration.sql.encode("utf-8"))
                    conn.execute(
                        "INSERT INTO shopstream_migrations (version, name, checksum)"
                        " VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                applied_now.append(migration)
    except psycopg.Error as exc:
        done = ", ".join(f"{m.version:04d}" for m in applied_now) or "none"
        raise MigrationError(
            f"migrations stopped on {type(exc).__name__}: {exc} (applied before it: {done})"
        ) from exc
    return applied_now


def applied_migrations(conn: psycopg.Connection[TupleRow]) -> dict[int, AppliedMigration]:
    """What ``shopstream_migrations`` records, by version."""
    rows = conn.execute("SELECT version, name, checksum FROM shopstream_migrations").fetchall()
    return {int(v): AppliedMigration(int(v), str(n), str(c)) for v, n, c in rows}
