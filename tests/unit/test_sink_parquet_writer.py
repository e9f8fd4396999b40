"""ParquetWriter on synthetic batches: layout, columns, rows, manifests, latest, compaction."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from shopstream.processors.sinks import Batch
from shopstream.processors.sinks.parquet import arrow_schema
from shopstream.processors.sinks.parquet.errors import DatasetLockedError, OffsetsWentBackError

from .sink_parquet_data import (
    CLEAN,
    CLEAN_CODEC,
    FEATURES,
    FEATURES_CODEC,
    batches,
    clean_topic,
    expected_offsets,
    features_topic,
    feed,
    newest,
    offsets,
    read_dataset,
    read_events,
    writer_factory,
)

EVENT_FILE = re.compile(
    r"^events/shop_id=[a-z0-9_-]+/event_date=\d{4}-\d{2}-\d{2}/event_type=[a-z]+/"
    + re.escape(CLEAN)
    + r"\+\d+\+\d+\+\d+\.parquet$"
)
HISTORY_FILE = re.compile(
    r"^features/history/shop_id=[a-z0-9_-]+/" + re.escape(FEATURES) + r"\+\d+\+\d+\+\d+\.parquet$"
)
LATEST_FILE = re.compile(r"^features/latest/shop_id=[a-z0-9_-]+/latest\.parquet$")
SINK_FILE = re.compile(r"^_sink/(lock|manifests/[^/]+\+\d+\+\d+\+\d+\.json)$")


def _files(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


def test_the_layout_is_exactly_the_documented_one(tmp_path: Path) -> None:
    writer = writer_factory(tmp_path, compact_every=1000)()
    feed(writer, {CLEAN: clean_topic(), FEATURES: features_topic()}, 7)
    writer.close()
    files = _files(tmp_path)
    for name in files:
        assert any(p.match(name) for p in (EVENT_FILE, HISTORY_FILE, LATEST_FILE, SINK_FILE)), name
    assert any(EVENT_FILE.match(n) for n in files)
    assert any(HISTORY_FILE.match(n) for n in files)
    assert any(LATEST_FILE.match(n) for n in files)


def test_each_clean_event_lands_once_in_its_partition_directory(tmp_path: Path) -> None:
    topic = clean_topic(count=150)
    writer = writer_factory(tmp_path, compact_every=1000)()
    feed(writer, {CLEAN: topic}, 11)
    writer.close()
    table = read_dataset(tmp_path / "events")
    assert offsets(table) == expected_offsets(topic)
    by_offset = {(r.partition, r.offset): r.event for part in topic.values() for r in part}
    checked = 0
    for event_type in CLEAN_CODEC.contract.names:
        for row in read_events(tmp_path, event_type).to_pylist():
            event = by_offset[(row["kafka_partition"], row["kafka_offset"])]
            assert row["event_type"] == event.name
            assert row["shop_id"] == event.record["shop_id"]
            assert row["event_date"] == event.record["event_time"].date().isoformat()
            for name, value in event.record.items():
                assert row[name] == (str(value) if name == "event_id" else value), name
            checked += 1
    assert checked == len(by_offset)


def test_each_event_type_has_its_schema_plus_the_kafka_columns(tmp_path: Path) -> None:
    writer = writer_factory(tmp_path)()
    feed(writer, {CLEAN: clean_topic(count=150)}, 50)
    writer.close()
    seen = set()
    for path in (tmp_path / "events").rglob("*.parquet"):
        event_type = path.parent.name.removeprefix("event_type=")
        schema = pq.read_schema(path)
        expected = arrow_schema(CLEAN_CODEC.schema(event_type).avsc)
        assert schema.names == [*expected.names, "kafka_partition", "kafka_offset"]
        for field in expected:
            assert schema.field(field.name).type == field.type
        assert schema.field("kafka_partition").type == pa.int32()
        assert schema.field("kafka_offset").type == pa.int64()
        seen.add(event_type)
    assert seen == {"signup", "visit", "review", "purchase", "product"}


def test_the_history_keeps_every_version_with_its_timestamps(tmp_path: Path) -> None:
    topic = features_topic()
    writer = writer_factory(tmp_path)()
    feed(writer, {FEATURES: topic}, 5)
    writer.close()
    table = read_dataset(tmp_path / "features" / "history")
    assert offsets(table) == expected_offsets(topic)
    fields = arrow_schema(FEATURES_CODEC.schema("buyer").avsc).names
    schema = pq.read_schema(next((tmp_path / "features" / "history").rglob("*.parquet")))
    assert schema.names == [
        *fields,
        "event_timestamp",
        "created_timestamp",
        "kafka_partition",
        "kafka_offset",
    ]
    utc_ms = pa.timestamp("ms", tz="UTC")
    assert schema.field("event_timestamp").type == utc_ms
    assert schema.field("created_timestamp").type == utc_ms
    messages = {(r.partition, r.offset): r for part in topic.values() for r in part}
    for row in table.to_pylist():
        message = messages[(row["kafka_partition"], row["kafka_offset"])]
        assert row["event_timestamp"] == message.event.record["as_of"] == row["as_of"]
        assert row["created_timestamp"] == dt.datetime.fromtimestamp(
            message.timestamp_ms / 1000, dt.UTC
        )
        assert row["buyer_pseudonym"] == message.event.record["buyer_pseudonym"]


def _latest(out: Path) -> dict[tuple[str, str], tuple[dt.datetime, int, int]]:
    table = read_dataset(out / "features" / "latest")
    rows = table.to_pylist()
    keys = [(r["shop_id"], r["buyer_pseudonym"]) for r in rows]
    assert len(keys) == len(set(keys)), "one row per buyer"
    return {
        (r["shop_id"], r["buyer_pseudonym"]): (
            r["event_timestamp"],
            r["kafka_partition"],
            r["kafka_offset"],
        )
        for r in rows
    }


@pytest.mark.parametrize("size", [1, 4, 1000])
def test_latest_is_the_newest_version_per_buyer(tmp_path: Path, size: int) -> None:
    topic = features_topic(count=80)
    writer = writer_factory(tmp_path)()
    feed(writer, {FEATURES: topic}, size)
    assert _latest(tmp_path) == newest(topic)  # rewritten after every batch
    writer.close()
    progress = {f"{FEATURES}+{p}": r[-1].offset + 1 for p, r in topic.items()}
    for path in (tmp_path / "features" / "latest").rglob("latest.parquet"):
        covers = json.loads(pq.read_schema(path).metadata[b"shopstream.covers"])
        shop = path.parent.name.removeprefix("shop_id=")
        for partition, records in topic.items():
            mine = [r.offset for r in records if r.event.record["shop_id"] == shop]
            # Every row of the shop merged; never more than what is landed.
            assert max(mine, default=-1) < covers[f"{FEATURES}+{partition}"]
            assert covers[f"{FEATURES}+{partition}"] <= progress[f"{FEATURES}+{partition}"]


def test_latest_on_an_interval_waits_and_close_writes_it(tmp_path: Path) -> None:
    now = [0.0]
    writer = writer_factory(tmp_path, latest_interval_s=60, clock=lambda: now[0])()
    topic = features_topic()
    first, *rest = batches(topic[0], 5)
    writer.write(first)
    assert not (tmp_path / "features" / "latest").exists()
    now[0] = 61
    writer.write(rest[0])
    assert (tmp_path / "features" / "latest").exists()
    for batch in rest[1:] + batches(topic[1], 5):
        writer.write(batch)
    writer.close()
    assert _latest(tmp_path) == newest(topic)


def test_resume_offsets_come_from_the_manifests(tmp_path: Path) -> None:
    topic = clean_topic()
    make = writer_factory(tmp_path)
    writer = make()
    assert writer.resume_offsets(CLEAN, [0, 1]) == {}
    for batch in batches(topic[0], 8)[:3]:
        writer.write(batch)
    assert writer.resume_offsets(CLEAN, [0, 1]) == {0: batches(topic[0], 8)[2].last_offset + 1}
    writer.close()
    writer = make()
    assert writer.resume_offsets(CLEAN, [0, 1]) == {0: batches(topic[0], 8)[2].last_offset + 1}
    feed(writer, {CLEAN: topic}, 8)
    writer.close()
    assert offsets(read_dataset(tmp_path / "events")) == expected_offsets(topic)
    manifests = sorted(p.name for p in (tmp_path / "_sink" / "manifests").iterdir())
    assert [m.split("+")[1] for m in manifests] == ["0", "1"], "one manifest per partition"
    newest_manifest = json.loads((tmp_path / "_sink" / "manifests" / manifests[0]).read_text())
    assert newest_manifest["next_offset"] == topic[0][-1].offset + 1
    for name in newest_manifest["files"]:
        assert (tmp_path / name).exists()


def test_compaction_merges_small_files_into_their_covering_range(tmp_path: Path) -> None:
    topic = features_topic(count=80)
    writer = writer_factory(tmp_path, compact_every=3)()
    feed(writer, {FEATURES: topic}, 2)
    writer.close()
    for directory in (tmp_path / "features" / "history").iterdir():
        ranges = sorted(
            tuple(int(x) for x in p.stem.split("+")[1:]) for p in directory.glob("*.parquet")
        )
        per_partition: dict[int, list[tuple[int, int]]] = {}
        for partition, first, last in ranges:
            per_partition.setdefault(partition, []).append((first, last))
        for spans in per_partition.values():
            assert len(spans) < 3, spans  # compacted at 3
            assert all(a[1] < b[0] for a, b in itertools.pairwise(spans)), spans
    assert offsets(read_dataset(tmp_path / "features" / "history")) == expected_offsets(topic)
    assert _latest(tmp_path) == newest(topic)
    assert not list((tmp_path / "_sink" / "compactions").iterdir())


def test_large_files_are_left_alone_by_compaction(tmp_path: Path) -> None:
    topic = features_topic(count=40)
    writer = writer_factory(tmp_path, compact_every=2, compact_max_bytes=1)()
    feed(writer, {FEATURES: topic}, 2)
    writer.close()
    count = len(list((tmp_path / "features" / "history").rglob("*.parquet")))
    assert count >= len(batches(topic[0], 2))


def test_a_batch_of_undecodable_messages_only_moves_progress(tmp_path: Path) -> None:
    writer = writer_factory(tmp_path)()
    writer.write(Batch(CLEAN, 0, 0, 4, [], skipped=5))
    assert writer.resume_offsets(CLEAN, [0]) == {0: 5}
    writer.close()
    assert not (tmp_path / "events").exists()


def test_a_second_writer_on_the_folder_is_refused(tmp_path: Path) -> None:
    make = writer_factory(tmp_path)
    writer = make()
    with pytest.raises(DatasetLockedError):
        make()
    writer.close()
    make().close()


def test_offsets_going_back_are_refused(tmp_path: Path) -> None:
    topic = clean_topic()
    writer = writer_factory(tmp_path)()
    first, second = batches(topic[0], 5)[:2]
    writer.write(first)
    writer.write(second)
    with pytest.raises(OffsetsWentBackError):
        writer.write(first)
    writer.close()


def test_duckdb_and_pyarrow_read_both_datasets(tmp_path: Path) -> None:
    clean, features = clean_topic(count=100), features_topic()
    writer = writer_factory(tmp_path, compact_every=3)()
    feed(writer, {CLEAN: clean, FEATURES: features}, 6)
    writer.close()
    db = duckdb.connect()
    events = db.execute(
        "select kafka_partition, kafka_offset, event_type, event_date, shop_id "
        "from read_parquet(?, hive_partitioning=true, union_by_name=true)",
        [f"{tmp_path}/events/**/*.parquet"],
    ).fetchall()
    assert sorted((p, o) for p, o, *_ in events) == expected_offsets(clean)
    assert all(isinstance(d, dt.date) for *_, d, _ in events)
    purchases = db.execute(
        "select sum(total), count(*) from read_parquet(?, hive_partitioning=true)",
        [f"{tmp_path}/events/*/*/event_type=purchase/*.parquet"],
    ).fetchone()
    expected = [
        r.event.record["total"] for p in clean.values() for r in p if r.event.name == "purchase"
    ]
    assert purchases == (sum(expected), len(expected))
    history = db.execute(
        "select count(*), count(distinct (kafka_partition, kafka_offset)) "
        "from read_parquet(?, hive_partitioning=true)",
        [f"{tmp_path}/features/history/**/*.parquet"],
    ).fetchone()
    assert history == (len(expected_offsets(features)),) * 2
    table = read_dataset(tmp_path / "events")
    visits = table.filter(pc.field("event_type") == "visit")
    assert visits.num_rows == sum(1 for p in clean.values() for r in p if r.event.name == "visit")


def test_pandas_reads_as_docs_sinks_md_says(tmp_path: Path) -> None:
    import pyarrow.dataset as ds

    pd = pytest.importorskip("pandas")

    clean, features = clean_topic(count=100), features_topic()
    writer = writer_factory(tmp_path)()
    feed(writer, {CLEAN: clean, FEATURES: features}, 20)
    writer.close()
    hive = ds.partitioning(flavor="hive")
    latest = pd.read_parquet(tmp_path / "features" / "latest", partitioning=hive)
    assert len(latest) == len(newest(features))
    files = sorted(str(p) for p in tmp_path.glob("events/*/*/event_type=visit/*.parquet"))
    visits = (
        ds.dataset(
            files, format="parquet", partitioning=hive, partition_base_dir=str(tmp_path / "events")
        )
        .to_table()
        .to_pandas()
    )
    assert "dwell_ms" in visits.columns
    assert set(visits["event_type"]) == {"visit"}
    assert len(visits) == sum(1 for p in clean.values() for r in p if r.event.name == "visit")
