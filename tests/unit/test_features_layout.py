"""The Parquet sink's dataset layout, written by hand for the features tests, and read back.

The writers here (``write_history``, ``write_latest``, ``write_events``, ``features_record``)
are shared by tests/unit/test_features_*.py and tests/integration/test_features_feast.py.
They follow the layout the sink writes: clean events per shop / date / type, the features
history and latest snapshot per shop, Arrow types derived from the Avro schemas,
timestamps as timestamp[ms, UTC], and Kafka partition and offset beside every row.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopstream.processors.features.dataset import ParquetDataset, read_files
from shopstream.processors.features.errors import DatasetError
from shopstream.processors.sinks.parquet.arrow import arrow_schema
from shopstream.processors.sinks.parquet.writer import FEATURE_TIME_COLUMNS, KAFKA_COLUMNS
from shopstream.schemas.contract import schemas_root

TS = pa.timestamp("ms", tz="UTC")
FEATURES_TOPIC = "shop.buyers.features"
CLEAN_TOPIC = "shop.events.clean"


def utc(text: str) -> dt.datetime:
    """``2026-03-01T10:00`` as an aware UTC datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def _avsc(*parts: str) -> dict[str, Any]:
    return json.loads((schemas_root().joinpath(*parts) / "v1.avsc").read_text("utf-8"))


FEATURES_AVSC = _avsc("features", "buyer")
# The sink's own Arrow mapping and extra columns, so these files are the sink's files.
HISTORY_SCHEMA = pa.schema([*arrow_schema(FEATURES_AVSC), *FEATURE_TIME_COLUMNS, *KAFKA_COLUMNS])


def clean_schema(event_type: str) -> pa.Schema:
    return pa.schema([*arrow_schema(_avsc("clean", event_type)), *KAFKA_COLUMNS])


def features_record(
    shop: str,
    buyer: str,
    as_of: dt.datetime,
    *,
    created: dt.datetime | None = None,
    partition: int = 0,
    offset: int = 0,
    **values: Any,
) -> dict[str, Any]:
    """One history row: every features field (zeros, nulls) with ``values`` over them."""
    row: dict[str, Any] = {}
    for field in HISTORY_SCHEMA:
        kind = field.type
        if field.nullable:
            row[field.name] = None
        elif pa.types.is_list(kind):
            row[field.name] = []
        elif pa.types.is_string(kind):
            row[field.name] = ""
        else:
            row[field.name] = 0
    row.update(
        shop_id=shop,
        buyer_pseudonym=buyer,
        pseudonym_key_id="k1",
        feature_version=1,
        currency="KRW",
        as_of=as_of,
    )
    row.update(values)
    row["event_timestamp"] = row["as_of"]
    row["created_timestamp"] = created or row["as_of"] + dt.timedelta(seconds=1)
    row["kafka_partition"] = partition
    row["kafka_offset"] = offset
    return row


def _write(path: Path, rows: Sequence[Mapping[str, Any]], schema: pa.Schema) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(list(rows), schema=schema), path)
    return path


def _name(topic: str, rows: Sequence[Mapping[str, Any]]) -> str:
    offsets = [r["kafka_offset"] for r in rows]
    return f"{topic}+{rows[0]['kafka_partition']}+{min(offsets)}+{max(offsets)}.parquet"


def write_history(root: Path, rows: Sequence[Mapping[str, Any]]) -> list[Path]:
    """``rows`` into features/history/, one file per shop and partition."""
    by_file: dict[tuple[str, int], list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        by_file[(row["shop_id"], row["kafka_partition"])].append(row)
    return [
        _write(
            root / "features" / "history" / f"shop_id={shop}" / _name(FEATURES_TOPIC, group),
            group,
            HISTORY_SCHEMA,
        )
        for (shop, _), group in sorted(by_file.items())
    ]


def write_latest(root: Path, rows: Sequence[Mapping[str, Any]]) -> list[Path]:
    """``rows`` (one per buyer) into features/latest/shop_id=<S>/latest.parquet."""
    by_shop: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        by_shop[row["shop_id"]].append(row)
    return [
        _write(
            root / "features" / "latest" / f"shop_id={shop}" / "latest.parquet",
            group,
            HISTORY_SCHEMA,
        )
        for shop, group in sorted(by_shop.items())
    ]


def write_events(root: Path, event_type: str, rows: Sequence[Mapping[str, Any]]) -> list[Path]:
    """Clean events of one type into events/shop_id=<S>/event_date=<D>/event_type=<T>/."""
    schema = clean_schema(event_type)
    by_dir: dict[tuple[str, dt.date], list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        by_dir[(row["shop_id"], row["event_time"].date())].append(row)
    paths = []
    for (shop, day), group in sorted(by_dir.items()):
        folder = (
            root / "events" / f"shop_id={shop}" / f"event_date={day}" / f"event_type={event_type}"
        )
        paths.append(_write(folder / _name(CLEAN_TOPIC, group), group, schema))
    return paths


# -- the layout read back ---------------------------------------------------------------------


def test_files_are_found_per_shop_and_temporary_files_are_skipped(tmp_path: Path) -> None:
    t = utc("2026-03-01T10:00")
    write_history(
        tmp_path, [features_record("shop-a", "a" * 64, t), features_record("shop-b", "b" * 64, t)]
    )
    (tmp_path / "features/history/shop_id=shop-a/.x.parquet.tmp").write_bytes(b"partial")
    (tmp_path / "features/history/shop_id=shop-a/_partial.parquet").write_bytes(b"partial")
    dataset = ParquetDataset(tmp_path)
    assert [p.parent.name for p in dataset.history_files()] == ["shop_id=shop-a", "shop_id=shop-b"]
    assert len(dataset.history_files("shop-b")) == 1
    assert dataset.history_files("shop-c") == []
    assert ParquetDataset(tmp_path / "missing").latest_files() == []


def test_event_files_are_found_by_type_across_dates(tmp_path: Path) -> None:
    rows = [
        signup_row("shop-a", "a" * 64, utc("2026-03-01T10:00"), offset=1),
        signup_row("shop-a", "b" * 64, utc("2026-03-02T10:00"), offset=2),
    ]
    write_events(tmp_path, "signup", rows)
    files = ParquetDataset(tmp_path).event_files("signup")
    assert [p.parts[-3] for p in files] == ["event_date=2026-03-01", "event_date=2026-03-02"]
    assert ParquetDataset(tmp_path).event_files("visit") == []


def test_files_of_different_schema_versions_read_as_one_table(tmp_path: Path) -> None:
    old = pa.table({"shop_id": ["s"], "orders": pa.array([1], pa.int64())})
    new = pa.table({"shop_id": ["s"], "orders": pa.array([2], pa.int64()), "added": ["x"]})
    pq.write_table(old, tmp_path / "a.parquet")
    pq.write_table(new, tmp_path / "b.parquet")
    table = read_files(
        [tmp_path / "a.parquet", tmp_path / "b.parquet"], columns=["orders", "added", "absent"]
    )
    assert table.sort_by("orders").to_pylist() == [
        {"orders": 1, "added": None},
        {"orders": 2, "added": "x"},
    ]


def test_an_unreadable_file_is_a_dataset_error_naming_its_folder(tmp_path: Path) -> None:
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(DatasetError, match=str(tmp_path)):
        read_files([tmp_path / "bad.parquet"])


def signup_row(
    shop: str,
    buyer: str | None,
    when: dt.datetime,
    *,
    age_band: str | None = "30-39",
    gender: str = "F",
    region: str | None = "KR-11",
    key_id: str = "k1",
    offset: int = 0,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A clean signup event (the quasi-identifiers are the point)."""
    return {
        "event_id": event_id or f"00000000-0000-4000-8000-{offset:012d}",
        "schema_version": 1,
        "shop_id": shop,
        "event_time": when,
        "sent_time": when + dt.timedelta(seconds=1),
        "buyer_pseudonym": buyer,
        "anonymous_pseudonym": None,
        "session_pseudonym": None,
        "pseudonym_key_id": key_id,
        "processed_time": when + dt.timedelta(seconds=2),
        "email_pseudonym": None,
        "phone_pseudonym": None,
        "region": region,
        "age_band": age_band,
        "gender": gender,
        "signup_channel": "web",
        "marketing_email": False,
        "marketing_sms": False,
        "marketing_push": False,
        "kafka_partition": 0,
        "kafka_offset": offset,
    }
