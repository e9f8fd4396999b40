"""Batch manifests: the sink's progress, kept beside the data it describes.

A batch's manifest ``_sink/manifests/<topic>+<partition>+<first>+<last>.json`` is written
(atomically) only after every data file of the batch is in place, and names them. So
the manifests say exactly which offsets are landed: a partition's progress is the
greatest ``last`` among its manifests, plus one. A manifest makes every earlier one of
its partition redundant; those are deleted once it is written (a crash in between leaves
two, and the greater wins).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopstream.processors.sinks.parquet.files import remove, write_json
from shopstream.processors.sinks.parquet.layout import OffsetRange, is_tmp

TopicPartition = tuple[str, int]


@dataclass(frozen=True)
class Manifest:
    """What one batch landed."""

    range: OffsetRange
    records: int
    skipped: int
    files: tuple[str, ...] = field(default=())
    """Data files written, relative to the output folder."""

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.range.topic,
            "partition": self.range.partition,
            "first_offset": self.range.first,
            "last_offset": self.range.last,
            "next_offset": self.range.last + 1,
            "records": self.records,
            "skipped": self.skipped,
            "files": list(self.files),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Manifest:
        return cls(
            OffsetRange(
                document["topic"],
                int(document["partition"]),
                int(document["first_offset"]),
                int(document["last_offset"]),
            ),
            int(document["records"]),
            int(document["skipped"]),
            tuple(document["files"]),
        )


class ManifestStore:
    """The manifests folder: progress per topic partition, and recording a batch."""

    def __init__(self, folder: Path, *, fsync: bool) -> None:
        self.folder = folder
        self._fsync = fsync
        self._current: dict[TopicPartition, OffsetRange] = {}
        folder.mkdir(parents=True, exist_ok=True)
        stale: list[OffsetRange] = []
        for name in os.listdir(folder):
            if is_tmp(name):
                remove(folder / name)  # a manifest whose write was cut short: never counted
                continue
            found = OffsetRange.parse(name)
            if found is None or not name.endswith(".json"):
                continue
            key = (found.topic, found.partition)
            held = self._current.get(key)
            if held is None or found.last > held.last:
                if held is not None:
                    stale.append(held)
                self._current[key] = found
            else:
                stale.append(found)
        for old in stale:
            remove(folder / old.manifest_name)

    def progress(self) -> dict[TopicPartition, int]:
        """The next offset to write, per topic partition with any manifest."""
        return {key: found.last + 1 for key, found in self._current.items()}

    def next_offset(self, topic: str, partition: int) -> int | None:
        found = self._current.get((topic, partition))
        return None if found is None else found.last + 1

    def record(self, manifest: Manifest) -> None:
        """Write ``manifest`` (the batch is landed from here on), then drop the one it supersedes."""
        key = (manifest.range.topic, manifest.range.partition)
        previous = self._current.get(key)
        write_json(
            manifest.to_json(), self.folder / manifest.range.manifest_name, fsync=self._fsync
        )
        self._current[key] = manifest.range
        if previous is not None and previous != manifest.range:
            remove(self.folder / previous.manifest_name)
