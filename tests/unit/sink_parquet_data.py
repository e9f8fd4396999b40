"""Synthetic topic content for the Parquet sink's unit tests, and a runner stand-in.

``clean_topic`` and ``features_topic`` give, per partition, the messages a sink would
read: real clean events and real buyer aggregates, encoded and decoded by the codecs
(so the values have fastavro's decoded types), at offsets with gaps where transaction
markers would be. ``feed`` plays the runner: batches from each partition's resume offset.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from shopstream.processors.aggregate import AggregateSettings, Applied, apply_event, buyer_features
from shopstream.processors.sinks import Batch, SinkRecord
from shopstream.processors.sinks.parquet import ParquetWriter
from shopstream.schemas.codec import Codec
from shopstream.schemas.contract import Contract, schemas_root
from shopstream.schemas.pseudonymised import load_clean_contract

from .test_aggregate_records import CleanEventFactory, pseudonym

CLEAN = "shop.events.clean"
FEATURES = "shop.buyers.features"
CLEAN_CODEC = Codec(load_clean_contract())
FEATURES_CODEC = Codec(Contract.load(schemas_root() / "features"))
T_KAFKA = 1_750_000_000_000

Topic = dict[int, list[SinkRecord]]


def _events(count: int, seed: int, shops: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(seed)
    factories = [
        CleanEventFactory(buyer=pseudonym(f"{shop}-{b}"), shop_id=shop)
        for shop in shops
        for b in range(3)
    ]
    out = []
    for _ in range(count):
        factory = rng.choice(factories)
        kind = rng.choice(["signup", "visit", "visit", "purchase", "review", "product"])
        # Days 0..3, fractions included: several event dates per shop.
        out.append(getattr(factory, kind)(rng.randrange(0, 4 * 24) / 24))
    return out


def _place(
    messages: list[tuple[str, dict[str, Any], int]],
    partitions: int,
    codec: Codec,
    topic: str,
    seed: int,
) -> Topic:
    rng = random.Random(seed)
    out: Topic = {p: [] for p in range(partitions)}
    next_offset = dict.fromkeys(range(partitions), 0)
    for n, (name, record, partition) in enumerate(messages):
        offset = next_offset[partition]
        decoded = codec.decode(codec.encode(name, record))
        out[partition].append(
            SinkRecord(topic, partition, offset, T_KAFKA + n, f"k{n}".encode(), decoded)
        )
        # Now and then a transaction marker takes the next offset.
        next_offset[partition] = offset + (2 if rng.random() < 0.2 else 1)
    return out


def clean_topic(count: int = 60, *, partitions: int = 2, seed: int = 1) -> Topic:
    events = _events(count, seed, ["mart-a", "mart-b"])
    return _place(
        [(name, record, n % partitions) for n, (name, record) in enumerate(events)],
        partitions,
        CLEAN_CODEC,
        CLEAN,
        seed,
    )


def features_topic(count: int = 60, *, partitions: int = 2, seed: int = 2) -> Topic:
    """One aggregate per counted event, keyed (so partitioned) by buyer, as stage 2 emits."""
    settings = AggregateSettings()
    states: dict[tuple[str, str], Any] = {}
    messages = []
    placement: dict[tuple[str, str], int] = {}
    for name, record in _events(count, seed, ["mart-a", "mart-b"]):
        key = (record["shop_id"], record["buyer_pseudonym"])
        state, applied = apply_event(states.get(key), name, record, settings)
        if applied != Applied.COUNTED or state is None:
            continue
        states[key] = state
        partition = placement.setdefault(key, len(placement) % partitions)
        messages.append(("buyer", buyer_features(state, settings), partition))
    return _place(messages, partitions, FEATURES_CODEC, FEATURES, seed)


def batches(records: list[SinkRecord], size: int, start: int = 0) -> list[Batch]:
    todo = [r for r in records if r.offset >= start]
    out = []
    for i in range(0, len(todo), size):
        chunk = todo[i : i + size]
        out.append(
            Batch(chunk[0].topic, chunk[0].partition, chunk[0].offset, chunk[-1].offset, chunk)
        )
    return out


def feed(writer: ParquetWriter, topics: Mapping[str, Topic], size: int) -> int:
    """Write every message from the writer's resume offsets, batch by batch, round robin."""
    queues = []
    for topic, parts in topics.items():
        resume = writer.resume_offsets(topic, sorted(parts))
        for partition, records in parts.items():
            queues.append(batches(records, size, resume.get(partition, 0)))
    written = 0
    while any(queues):
        for queue in queues:
            if queue:
                batch = queue.pop(0)
                writer.write(batch)
                written += 1
    return written


def writer_factory(out: Path, **options: Any) -> Callable[..., ParquetWriter]:
    def make(**more: Any) -> ParquetWriter:
        return ParquetWriter(
            out, clean_topic=CLEAN, features_topic=FEATURES, **{"fsync": False, **options, **more}
        )

    return make


def read_dataset(path: Path) -> pa.Table:
    """A Hive-partitioned dataset (columns of its first file: those all event types share)."""
    return ds.dataset(path, format="parquet", partitioning="hive").to_table()


def read_events(out: Path, event_type: str) -> pa.Table:
    """The events of one type (each type has its own columns)."""
    files = sorted(str(p) for p in out.glob(f"events/*/*/event_type={event_type}/*.parquet"))
    dataset = ds.dataset(
        files, format="parquet", partitioning="hive", partition_base_dir=str(out / "events")
    )
    return dataset.to_table()


def offsets(table: pa.Table) -> list[tuple[int, int]]:
    return sorted(
        zip(table["kafka_partition"].to_pylist(), table["kafka_offset"].to_pylist(), strict=True)
    )


def expected_offsets(topic: Topic) -> list[tuple[int, int]]:
    return sorted((r.partition, r.offset) for records in topic.values() for r in records)


def newest(topic: Topic) -> dict[tuple[str, str], tuple[dt.datetime, int, int]]:
    """Per (shop, buyer): (as_of, partition, offset) of the newest aggregate."""
    best: dict[tuple[str, str], tuple[dt.datetime, int, int, int]] = {}
    for records in topic.values():
        for r in records:
            rec = r.event.record
            key = (rec["shop_id"], rec["buyer_pseudonym"])
            rank = (rec["as_of"], r.timestamp_ms, r.offset, r.partition)
            if key not in best or rank > best[key]:
                best[key] = rank
    return {k: (v[0], v[3], v[2]) for k, v in best.items()}
