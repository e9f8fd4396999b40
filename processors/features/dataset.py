"""The Parquet sink's dataset layout, read back (``shopstream sink parquet --out DIR``).

::

    DIR/events/shop_id=<S>/event_date=<YYYY-MM-DD>/event_type=<T>/<topic>+<p>+<first>+<last>.parquet
    DIR/features/history/shop_id=<S>/<topic>+<p>+<first>+<last>.parquet
    DIR/features/latest/shop_id=<S>/latest.parquet

Every file carries all its columns (``shop_id`` included), so files are read as they are,
without Hive partition discovery; only ``event_type`` lives in the path alone, and one
event type is read at a time. Names starting with ``.`` or ``_`` (a writer's temporary
files) are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import quote

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from shopstream.processors.features.errors import DatasetError

EVENT_TYPES: Final = ("signup", "visit", "review", "purchase", "product")
KAFKA_COLUMNS: Final = ("kafka_partition", "kafka_offset")
"""Where a row came from in Kafka: the sink's bookkeeping, in events and features."""
EVENT_TIMESTAMP: Final = "event_timestamp"
CREATED_TIMESTAMP: Final = "created_timestamp"
"""The features history's two times: as_of, and when the version was produced."""
KEY_COLUMNS: Final = ("shop_id", "buyer_pseudonym")


@dataclass(frozen=True, slots=True)
class ParquetDataset:
    """The folder a Parquet sink writes (its ``--out``)."""

    root: Path

    def history_files(self, shop: str | None = None) -> list[Path]:
        return _files(self.root / "features" / "history", _shop_dir(shop))

    def latest_files(self, shop: str | None = None) -> list[Path]:
        return _files(self.root / "features" / "latest", _shop_dir(shop))

    def event_files(self, event_type: str, shop: str | None = None) -> list[Path]:
        return _files(
            self.root / "events", _shop_dir(shop), "event_date=*", f"event_type={event_type}"
        )


def read_files(
    files: Sequence[Path],
    *,
    columns: Sequence[str] | None = None,
    row_filter: ds.Expression | None = None,
) -> pa.Table:
    """The rows of ``files`` as one table, their schemas unified (older files lack newer fields).

    ``columns`` absent from every file are left out rather than raising.
    """
    if not files:
        raise ValueError("no files to read")
    try:
        schema = pa.unify_schemas([pq.read_schema(f) for f in files])
        dataset = ds.dataset([str(f) for f in files], schema=schema, format="parquet")
        wanted = None if columns is None else [c for c in columns if c in schema.names]
        return dataset.to_table(columns=wanted, filter=row_filter)
    except (OSError, pa.ArrowException) as exc:
        raise DatasetError(f"cannot read the Parquet files: {exc}", files[0].parent) from exc


def _shop_dir(shop: str | None) -> str:
    return "shop_id=*" if shop is None else f"shop_id={quote(shop, safe='')}"


def _files(base: Path, *patterns: str) -> list[Path]:
    if not base.is_dir():
        return []
    found = base.glob("/".join([*patterns, "*.parquet"]))
    return sorted(p for p in found if not p.name.startswith((".", "_")) and p.is_file())


__all__ = [
    "CREATED_TIMESTAMP",
    "EVENT_TIMESTAMP",
    "EVENT_TYPES",
    "KAFKA_COLUMNS",
    "KEY_COLUMNS",
    "ParquetDataset",
    "read_files",
]
