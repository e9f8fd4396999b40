"""The PostgreSQL sink's columns: one per features field, the right SQL type, the right row."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest

from shopstream.processors.engine.aggregate_app import features_codec
from shopstream.processors.sinks import SinkRecord
from shopstream.processors.sinks.postgres import load_migrations, masked_dsn
from shopstream.processors.sinks.postgres.rows import (
    COLUMN_NAMES,
    COLUMNS,
    FEATURE_COLUMNS,
    feature_row,
)
from shopstream.schemas.contract import schemas_root
from tests.unit.features_records import T0, features_record, pseudonym

# The mapping restated from docs/sinks.md, independently of rows.py.
_PRIMITIVES = {"string": "text", "int": "integer", "long": "bigint", "double": "double precision"}


def _sql_type(avro: Any) -> tuple[str, bool]:
    """(SQL type, nullable) of an Avro field type."""
    if isinstance(avro, list):
        (inner,) = [t for t in avro if t != "null"]
        return _sql_type(inner)[0], "null" in avro
    if isinstance(avro, dict):
        if avro.get("logicalType") == "timestamp-millis":
            return "timestamptz", False
        if avro["type"] == "array":
            return _sql_type(avro["items"])[0] + "[]", False
        return _sql_type(avro["type"])
    return _PRIMITIVES[avro], False


def _avsc_fields() -> list[dict[str, Any]]:
    path = schemas_root() / "features" / "buyer" / "v1.avsc"
    fields: list[dict[str, Any]] = json.loads(path.read_text("utf-8"))["fields"]
    return fields


def test_one_column_per_features_field_with_its_sql_type() -> None:
    expected = [(f["name"], *_sql_type(f["type"])) for f in _avsc_fields()]
    assert [(c.name, c.sql_type, c.nullable) for c in FEATURE_COLUMNS] == expected


def test_source_columns_follow_the_features() -> None:
    assert COLUMN_NAMES[len(FEATURE_COLUMNS) :] == (
        "event_timestamp",
        "created_timestamp",
        "kafka_partition",
        "kafka_offset",
    )


def _created_columns(table: str) -> list[tuple[str, str, bool]]:
    """The columns of ``CREATE TABLE table (...)`` in the shipped migrations."""
    sql = "\n".join(m.sql for m in load_migrations())
    body = re.search(rf"CREATE TABLE {table} \((.*?)\n\);", sql, re.DOTALL)
    assert body is not None
    columns = []
    for line in body[1].splitlines():
        line = line.strip().rstrip(",")
        if not line or line.startswith(("PRIMARY KEY", "--")):
            continue
        name, rest = line.split(maxsplit=1)
        rest = " ".join(rest.split())
        columns.append((name, rest.removesuffix(" NOT NULL"), not rest.endswith("NOT NULL")))
    return columns


def test_the_migration_creates_exactly_these_columns() -> None:
    assert _created_columns("buyer_features") == [(c.name, c.sql_type, c.nullable) for c in COLUMNS]


def _record(features: dict[str, Any], *, partition: int = 2, offset: int = 41) -> SinkRecord:
    codec = features_codec()
    event = codec.decode(codec.encode("buyer", features))
    return SinkRecord("shop.buyers.features", partition, offset, 1_772_355_600_123, b"k", event)


def test_row_holds_the_fields_in_order_then_where_and_when() -> None:
    features = features_record(buyer=7, as_of=T0, events=3)
    row = feature_row(_record(features, partition=2, offset=41))
    assert len(row) == len(COLUMNS)
    by_name = dict(zip(COLUMN_NAMES, row, strict=True))
    assert by_name["buyer_pseudonym"] == pseudonym(7)
    assert by_name["as_of"] == by_name["event_timestamp"] == T0
    assert by_name["created_timestamp"] == dt.datetime(2026, 3, 1, 9, 0, 0, 123_000, tzinfo=dt.UTC)
    assert (by_name["kafka_partition"], by_name["kafka_offset"]) == (2, 41)
    assert by_name["top_categories"] == ["c-10", "c-7"]
    assert by_name["mean_rating"] is None
    for name, value in by_name.items():
        if name in features:
            assert value == features[name], name


def test_timestamps_are_timezone_aware_utc() -> None:
    row = feature_row(_record(features_record()))
    stamps = [v for v in row if isinstance(v, dt.datetime)]
    assert stamps
    assert all(s.utcoffset() == dt.timedelta(0) for s in stamps)


def test_missing_kafka_timestamp_is_null() -> None:
    record = _record(features_record())
    row = feature_row(
        SinkRecord(record.topic, record.partition, record.offset, -1, record.key, record.event)
    )
    assert dict(zip(COLUMN_NAMES, row, strict=True))["created_timestamp"] is None


@pytest.mark.parametrize(
    ("dsn", "masked"),
    [
        (
            "postgresql://sink:s3cret@db.example:5433/features?sslmode=require",
            "user=sink password=*** dbname=features host=db.example port=5433 sslmode=require",
        ),
        ("host=db password='a b' user=sink", "user=sink password=*** host=db"),
        ("host=db user=sink", "user=sink host=db"),
        ("postgresql://db/features?password=s3cret", "password=*** dbname=features host=db"),
        ("not a dsn 's3cret", "<unparsable DSN>"),
    ],
)
def test_masked_dsn_never_shows_the_password(dsn: str, masked: str) -> None:
    assert masked_dsn(dsn) == masked
    assert "s3cret" not in masked_dsn(dsn)
