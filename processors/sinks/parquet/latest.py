"""``features/latest/shop_id=<S>/latest.parquet``: the newest version of each buyer's aggregate.

The snapshot is derived from the history, never the other way round. Each file carries,
in its Parquet key-value metadata (``shopstream.covers``), the progress of every topic
partition it reflects: every history row of its shop below those offsets is merged in.
A rewrite merges the old snapshot with the new rows, keeps per buyer the row with the
greatest (event_timestamp, created_timestamp, kafka_offset, kafka_partition), and
replaces the file atomically. If the sink dies before a rewrite, the history files above
the recorded progress say what is missing, and :meth:`LatestSnapshots.repair` merges
them at start-up.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shopstream.processors.sinks.parquet.files import Step, fsync_dir, write_parquet
from shopstream.processors.sinks.parquet.layout import (
    FEATURES,
    HISTORY,
    data_files,
    latest_path,
    shop_of,
)
from shopstream.processors.sinks.parquet.manifests import TopicPartition

COVERS_KEY = b"shopstream.covers"
KEY = "buyer_pseudonym"
NEWEST_FIRST = [
    ("event_timestamp", "descending"),
    ("created_timestamp", "descending"),
    ("kafka_offset", "descending"),
    ("kafka_partition", "descending"),
]

log = logging.getLogger(__name__)


def newest_per_buyer(table: pa.Table) -> pa.Table:
    """One row per buyer_pseudonym, the newest; sorted by buyer_pseudonym."""
    if table.num_rows == 0:
        return table
    ordered = table.sort_by([(KEY, "ascending"), *NEWEST_FIRST])
    buyers = ordered.column(KEY)
    changes = pc.not_equal(buyers.slice(1), buyers.slice(0, len(buyers) - 1))
    first_of_each = pa.concat_arrays([pa.array([True]), *changes.chunks])
    return ordered.filter(first_of_each)


def covers_key(topic: str, partition: int) -> str:
    return f"{topic}+{partition}"


def read_covers(path: Path) -> dict[str, int]:
    """The progress the snapshot at ``path`` reflects ({} if there is no snapshot)."""
    if not path.exists():
        return {}
    metadata = pq.read_schema(path).metadata or {}
    covers = json.loads(metadata.get(COVERS_KEY, b"{}"))
    return {str(k): int(v) for k, v in covers.items()}


class LatestSnapshots:
    """Pending new rows per shop, merged into the shops' snapshots when due."""

    def __init__(
        self,
        out: Path,
        *,
        fsync: bool,
        interval_s: float,
        clock: Callable[[], float],
        on_step: Step,
    ) -> None:
        self._out = out
        self._fsync = fsync
        self._interval = interval_s
        self._clock = clock
        self._on_step = on_step
        self._pending: dict[str, list[pa.Table]] = {}
        self._last_flush = clock()

    def add(self, shop_id: str, rows: pa.Table) -> None:
        """Rows of a landed history batch (their manifest is written)."""
        self._pending.setdefault(shop_id, []).append(rows)

    def flush(self, progress: Mapping[TopicPartition, int], *, force: bool = False) -> int:
        """Rewrite the snapshots of the shops with pending rows, if due; how many were."""
        if not self._pending or (not force and self._clock() - self._last_flush < self._interval):
            return 0
        covers = {covers_key(t, p): n for (t, p), n in progress.items()}
        pending, self._pending = self._pending, {}
        for shop_id, tables in sorted(pending.items()):
            self._merge(shop_id, tables, covers)
        self._last_flush = self._clock()
        return len(pending)

    def repair(self, progress: Mapping[TopicPartition, int]) -> int:
        """Merge the history rows each snapshot lacks (start-up); how many shops needed it."""
        history = self._out / FEATURES / HISTORY
        if not history.is_dir():
            return 0
        covers = {covers_key(t, p): n for (t, p), n in progress.items()}
        repaired = 0
        for directory in sorted(p for p in history.iterdir() if p.is_dir()):
            shop_id = shop_of(directory)
            if shop_id is None:
                continue
            covered = read_covers(self._out / latest_path(shop_id))
            missing = []
            for path, found in sorted(data_files(directory), key=lambda x: x[1]):
                since = covered.get(covers_key(found.topic, found.partition), 0)
                if found.last >= since:
                    rows = pq.read_table(path)
                    missing.append(rows.filter(pc.field("kafka_offset") >= since))
            if missing:
                self._merge(shop_id, missing, covers)
                repaired += 1
        return repaired

    def _merge(self, shop_id: str, tables: list[pa.Table], covers: Mapping[str, int]) -> None:
        path = self._out / latest_path(shop_id)
        old = pq.read_table(path).replace_schema_metadata(None) if path.exists() else None
        parts = ([old] if old is not None else []) + [t for t in tables if t.num_rows]
        if not parts:
            return
        merged = newest_per_buyer(pa.concat_tables(parts, promote_options="default"))
        merged = merged.replace_schema_metadata(
            {COVERS_KEY: json.dumps(dict(covers), sort_keys=True).encode()}
        )
        write_parquet(merged, path, fsync=self._fsync)
        if self._fsync:
            fsync_dir(path.parent)
        self._on_step("latest.written", path)
