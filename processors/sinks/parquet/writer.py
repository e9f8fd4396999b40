"""The Parquet sink's :class:`~shopstream.processors.sinks.base.SinkWriter`.

A batch (consecutive messages of one topic partition, offsets ``first``..``last``) is
landed in this order:

1. one data file per directory it touches, ``<topic>+<partition>+<first>+<last>.parquet``,
   each written under a temporary name and renamed into place;
2. the batch's manifest (``_sink/manifests/``), atomically: from here on the batch counts;
3. for features: the ``latest`` snapshots of the shops it touched (now, or when due);
4. compaction of the directories it touched, where due.

At start-up (:func:`~shopstream.processors.sinks.parquet.recovery.recover`) whatever a
crash left half-done is undone or finished, so the folder again holds exactly the
offsets its manifests name. docs/sinks.md gives the whole argument.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pyarrow as pa

from shopstream.processors.sinks.base import Batch, SinkRecord
from shopstream.processors.sinks.parquet.arrow import RecordColumns
from shopstream.processors.sinks.parquet.compaction import Compactor
from shopstream.processors.sinks.parquet.errors import (
    DatasetLockedError,
    OffsetsWentBackError,
    ParquetSinkError,
)
from shopstream.processors.sinks.parquet.files import Step, fsync_dir, no_step, write_parquet
from shopstream.processors.sinks.parquet.latest import LatestSnapshots
from shopstream.processors.sinks.parquet.layout import (
    COMPACTIONS,
    LOCK,
    MANIFESTS,
    SINK,
    OffsetRange,
    events_dir,
    history_dir,
)
from shopstream.processors.sinks.parquet.manifests import Manifest, ManifestStore
from shopstream.processors.sinks.parquet.recovery import RecoveryReport, recover
from shopstream.schemas.contract import Contract, schemas_root
from shopstream.schemas.pseudonymised import load_clean_contract

log = logging.getLogger(__name__)

KAFKA_COLUMNS = [
    pa.field("kafka_partition", pa.int32(), nullable=False),
    pa.field("kafka_offset", pa.int64(), nullable=False),
]
FEATURE_TIME_COLUMNS = [
    pa.field("event_timestamp", pa.timestamp("ms", tz="UTC"), nullable=False),
    pa.field("created_timestamp", pa.timestamp("ms", tz="UTC"), nullable=False),
]


class ParquetWriter:
    """Lands clean events and buyer features under ``out`` (layout: docs/sinks.md)."""

    def __init__(
        self,
        out: Path,
        *,
        clean_topic: str,
        features_topic: str,
        clean_contract: Contract | None = None,
        features_contract: Contract | None = None,
        compact_every: int = 16,
        compact_max_bytes: int = 64 * 1024 * 1024,
        latest_interval_s: float = 0.0,
        fsync: bool = True,
        clock: Callable[[], float] = time.monotonic,
        on_step: Step | None = None,
    ) -> None:
        self.out = out
        self._features_topic = features_topic
        self._fsync = fsync
        self._on_step = on_step or no_step
        self._broken = False
        out.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock(out / SINK / LOCK)
        try:
            self._columns = {
                clean_topic: _columns(clean_contract or load_clean_contract()),
                features_topic: _columns(
                    features_contract or Contract.load(schemas_root() / "features")
                ),
            }
            self._manifests = ManifestStore(out / SINK / MANIFESTS, fsync=fsync)
            self._compactor = Compactor(
                out,
                out / SINK / COMPACTIONS,
                every=compact_every,
                max_bytes=compact_max_bytes,
                fsync=fsync,
                on_step=self._on_step,
            )
            self._latest = LatestSnapshots(
                out, fsync=fsync, interval_s=latest_interval_s, clock=clock, on_step=self._on_step
            )
            self.recovery: RecoveryReport = recover(
                out, self._manifests, self._compactor, self._latest
            )
        except BaseException:
            os.close(self._lock_fd)
            raise
        log.log(
            logging.WARNING if self.recovery.changed else logging.INFO,
            "start-up recovery: %s",
            self.recovery,
        )

    # -- SinkWriter --------------------------------------------------------------------------
    def resume_offsets(self, topic: str, partitions: Sequence[int]) -> Mapping[int, int]:
        out = {}
        for partition in partitions:
            offset = self._manifests.next_offset(topic, partition)
            if offset is not None:
                out[partition] = offset
        return out

    def write(self, batch: Batch) -> None:
        if self._broken:
            raise ParquetSinkError("a write failed earlier; restart the sink to recover the folder")
        try:
            self._write(batch)
        except BaseException:
            self._broken = True
            raise

    def close(self) -> None:
        """Rewrite the due snapshots (unless a write failed) and release the folder."""
        if self._lock_fd < 0:
            return
        try:
            if not self._broken:
                self._latest.flush(self._manifests.progress(), force=True)
        finally:
            os.close(self._lock_fd)
            self._lock_fd = -1

    # -- internals ---------------------------------------------------------------------------
    def _write(self, batch: Batch) -> None:
        topic, partition = batch.topic, batch.partition
        done = self._manifests.next_offset(topic, partition)
        if done is not None and batch.first_offset < done:
            raise OffsetsWentBackError(
                f"{topic}[{partition}] batch starts at {batch.first_offset}, below the landed "
                f"progress {done}: was the topic recreated? Use a new output folder.",
                topic=topic,
                partition=partition,
                offset=batch.first_offset,
            )
        columns = self._columns.get(topic)
        if columns is None:
            raise ParquetSinkError(f"no dataset for topic {topic!r}")
        span = OffsetRange(topic, partition, batch.first_offset, batch.last_offset)
        features = topic == self._features_topic
        groups = _by_features_shop(batch.records) if features else _by_event_dir(batch.records)
        written: list[Path] = []
        by_shop: dict[str, pa.Table] = {}
        for (directory, shop_id), records in groups.items():
            table = self._table(columns, records, features=features)
            final = self.out / directory / span.parquet_name
            write_parquet(table, final, fsync=self._fsync)
            self._on_step("batch.file", final)
            written.append(final)
            by_shop[shop_id] = table
        if self._fsync:
            for folder in {p.parent for p in written}:
                fsync_dir(folder)
        manifest = Manifest(
            span,
            records=len(batch.records),
            skipped=batch.skipped,
            files=tuple(str(p.relative_to(self.out)) for p in written),
        )
        self._manifests.record(manifest)
        self._on_step("batch.manifest", self.out / SINK / MANIFESTS / span.manifest_name)
        if features:
            for shop_id, table in by_shop.items():
                self._latest.add(shop_id, table)
            self._latest.flush(self._manifests.progress())
        for final in written:
            self._compactor.compact(final.parent)

    def _table(
        self, columns: Mapping[str, RecordColumns], records: list[SinkRecord], *, features: bool
    ) -> pa.Table:
        name = records[0].event.name
        record_columns = columns[name]
        values = [r.event.record for r in records]
        arrays = record_columns.columns(values)
        fields = list(record_columns.schema)
        if features:
            arrays.append(pa.array([v["as_of"] for v in values], FEATURE_TIME_COLUMNS[0].type))
            arrays.append(pa.array([r.timestamp_ms for r in records], FEATURE_TIME_COLUMNS[1].type))
            fields += FEATURE_TIME_COLUMNS
        arrays.append(pa.array([r.partition for r in records], pa.int32()))
        arrays.append(pa.array([r.offset for r in records], pa.int64()))
        fields += KAFKA_COLUMNS
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _columns(contract: Contract) -> dict[str, RecordColumns]:
    return {name: RecordColumns.from_avro(contract.latest(name).avsc) for name in contract.names}


Groups = dict[tuple[Path, str], list[SinkRecord]]
"""(directory, shop id) -> the batch's records that go there."""


def _by_event_dir(records: list[SinkRecord]) -> Groups:
    by_key: dict[tuple[str, dt.date, str], list[SinkRecord]] = {}
    for r in records:
        record = r.event.record
        event_time: dt.datetime = record["event_time"]
        key = (record["shop_id"], event_time.astimezone(dt.UTC).date(), r.event.name)
        by_key.setdefault(key, []).append(r)
    return {(events_dir(*key), key[0]): group for key, group in by_key.items()}


def _by_features_shop(records: list[SinkRecord]) -> Groups:
    by_shop: dict[str, list[SinkRecord]] = {}
    for r in records:
        by_shop.setdefault(r.event.record["shop_id"], []).append(r)
    return {(history_dir(shop_id), shop_id): group for shop_id, group in by_shop.items()}


def _lock(path: Path) -> int:
    """Hold ``path`` locked while the writer lives (released by the kernel on kill -9)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DatasetLockedError(
            f"{path.parent.parent} is being written by another sink process", path=path
        ) from None
    return fd
