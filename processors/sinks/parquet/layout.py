"""Where things go under the output folder, and how files are named.

::

    DIR/events/shop_id=<S>/event_date=<YYYY-MM-DD>/event_type=<T>/<topic>+<partition>+<first>+<last>.parquet
    DIR/features/history/shop_id=<S>/<topic>+<partition>+<first>+<last>.parquet
    DIR/features/latest/shop_id=<S>/latest.parquet
    DIR/_sink/manifests/<topic>+<partition>+<first>+<last>.json    progress (one per batch)
    DIR/_sink/compactions/<...>.json                                compaction in progress
    DIR/_sink/lock                                                  one writer at a time

A data file ``t+p+a+b.parquet`` in a directory holds exactly the records of topic ``t``,
partition ``p``, offsets ``a`` to ``b`` inclusive, that belong to that directory. Files
being written start with a dot and end in ``.tmp``: DuckDB's ``*.parquet`` globs and
pyarrow's datasets (which skip names starting with ``.`` or ``_``) never see them, nor
``_sink``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

EVENTS = "events"
FEATURES = "features"
HISTORY = "history"
LATEST = "latest"
LATEST_FILE = "latest.parquet"
SINK = "_sink"
MANIFESTS = "manifests"
COMPACTIONS = "compactions"
LOCK = "lock"
TMP_SUFFIX = ".tmp"

_RANGE = re.compile(r"^(?P<topic>[^+/]+)\+(?P<partition>\d+)\+(?P<first>\d+)\+(?P<last>\d+)$")


@dataclass(frozen=True, slots=True, order=True)
class OffsetRange:
    """Topic, partition and the inclusive offset range a file (or a manifest) covers."""

    topic: str
    partition: int
    first: int
    last: int

    @property
    def stem(self) -> str:
        return f"{self.topic}+{self.partition}+{self.first}+{self.last}"

    @property
    def parquet_name(self) -> str:
        return f"{self.stem}.parquet"

    @property
    def manifest_name(self) -> str:
        return f"{self.stem}.json"

    def covers(self, other: OffsetRange) -> bool:
        """Same topic partition, and ``other``'s range within this one's."""
        return (
            self.topic == other.topic
            and self.partition == other.partition
            and self.first <= other.first
            and other.last <= self.last
        )

    @classmethod
    def parse(cls, name: str) -> OffsetRange | None:
        """The range in a file name (``t+p+a+b.parquet`` or ``.json``); None if it is no such name."""
        stem, dot, _ = name.rpartition(".")
        match = _RANGE.match(stem) if dot else None
        if match is None:
            return None
        return cls(match["topic"], int(match["partition"]), int(match["first"]), int(match["last"]))


def partition_value(value: str) -> str:
    """A Hive partition value, percent-encoded as pyarrow and DuckDB decode it.

    Shop ids (``^[a-z0-9][a-z0-9_-]{1,63}$``) and event types come out unchanged; the
    encoding only keeps anything else from escaping its directory.
    """
    return quote(value, safe="")


def events_dir(shop_id: str, event_date: dt.date, event_type: str) -> Path:
    return Path(
        EVENTS,
        f"shop_id={partition_value(shop_id)}",
        f"event_date={event_date.isoformat()}",
        f"event_type={partition_value(event_type)}",
    )


def history_dir(shop_id: str) -> Path:
    return Path(FEATURES, HISTORY, f"shop_id={partition_value(shop_id)}")


def latest_path(shop_id: str) -> Path:
    return Path(FEATURES, LATEST, f"shop_id={partition_value(shop_id)}", LATEST_FILE)


def tmp_path(final: Path) -> Path:
    """Where ``final`` is written before it is renamed into place."""
    return final.with_name(f".{final.name}{TMP_SUFFIX}")


def is_tmp(name: str) -> bool:
    return name.startswith(".") and name.endswith(TMP_SUFFIX)


def data_files(root: Path) -> Iterator[tuple[Path, OffsetRange]]:
    """Every range-named Parquet file under ``root`` (events/ or features/history/)."""
    for folder, _, names in os.walk(root):
        for name in names:
            if name.endswith(".parquet"):
                found = OffsetRange.parse(name)
                if found is not None:
                    yield Path(folder, name), found


def shop_of(directory: Path) -> str | None:
    """The shop id of a ``shop_id=<S>`` directory (percent-decoded)."""
    key, sep, value = directory.name.partition("=")
    return unquote(value) if sep and key == "shop_id" else None
