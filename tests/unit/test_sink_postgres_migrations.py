"""Migration files: found in order, checksummed, and checked against what was applied."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from shopstream.processors.sinks.postgres import MigrationError, load_migrations
from shopstream.processors.sinks.postgres.schema import (
    AppliedMigration,
    Migration,
    pending_migrations,
)


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).write_text(text, "utf-8")
    return tmp_path


def _applied(*migrations: Migration) -> dict[int, AppliedMigration]:
    return {m.version: AppliedMigration(m.version, m.name, m.checksum) for m in migrations}


def test_shipped_migrations_start_at_one_without_gaps() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))
    assert load_migrations()[0].name == "buyer_features"


def test_files_are_ordered_by_version_not_by_listing(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "0010_later.sql": "SELECT 10;",
            "0002_second.sql": "SELECT 2;",
            "0001_first.sql": "SELECT 1;",
            "README.md": "not a migration",
        },
    )
    assert [(m.version, m.name) for m in load_migrations(folder)] == [
        (1, "first"),
        (2, "second"),
        (10, "later"),
    ]


def test_checksum_is_sha256_of_the_file_bytes(tmp_path: Path) -> None:
    text = "CREATE TABLE t (x int);\n-- 한글 comment\n"
    (migration,) = load_migrations(_folder(tmp_path, {"0001_t.sql": text}))
    assert migration.checksum == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert migration.sql == text
    assert text not in repr(migration)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"0001_a.sql": "", "0001_b.sql": ""}, "used twice"),
        ({"1_a.sql": ""}, "NNNN_name.sql"),
        ({"0001-a.sql": ""}, "NNNN_name.sql"),
        ({"0001_A.sql": ""}, "NNNN_name.sql"),
    ],
    ids=["duplicate-version", "short-number", "dash", "upper-case"],
)
def test_badly_named_or_duplicate_files_are_errors(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    with pytest.raises(MigrationError, match=message):
        load_migrations(_folder(tmp_path, files))


@pytest.fixture
def three(tmp_path: Path) -> list[Migration]:
    return load_migrations(
        _folder(tmp_path, {"0001_a.sql": "a", "0002_b.sql": "b", "0003_c.sql": "c"})
    )


def test_pending_is_what_was_not_applied_in_order(three: list[Migration]) -> None:
    assert pending_migrations(three, {}) == three
    assert pending_migrations(three, _applied(three[0])) == three[1:]
    assert pending_migrations(three, _applied(*three)) == []


def test_an_applied_file_that_changed_is_an_error(three: list[Migration]) -> None:
    applied = _applied(*three[:2])
    applied[2] = AppliedMigration(2, "b", hashlib.sha256(b"b, before the edit").hexdigest())
    with pytest.raises(MigrationError, match="0002_b was changed after it was applied"):
        pending_migrations(three, applied)


def test_an_applied_version_the_code_does_not_have_is_an_error(three: list[Migration]) -> None:
    applied = _applied(*three)
    applied[4] = AppliedMigration(4, "d", "0" * 64)
    with pytest.raises(MigrationError, match="0004_d, which this version"):
        pending_migrations(three, applied)


def test_a_new_file_numbered_below_an_applied_one_is_an_error(three: list[Migration]) -> None:
    with pytest.raises(MigrationError, match="0002_b is older than 0003"):
        pending_migrations(three, _applied(three[0], three[2]))
