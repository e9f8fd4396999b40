"""Merge a directory's small files of one topic partition into one.

Steps, each a possible crash point, and what start-up does after a crash there:

1. write the merged file under a temporary name     -> the ``.tmp`` file is deleted
2. rename it to ``t+p+<first of inputs>+<last of inputs>.parquet``
                                                    -> its range covers the inputs': they
                                                       are garbage and deleted
3. record the compaction (``_sink/compactions/``)   -> the recorded inputs are deleted
4. delete the inputs                                -> likewise
5. delete the record

Only a run of files that are consecutive in offset order is merged (a large file in
between ends the run), so a merged range never spans a file left out: "covered by
another file in the same directory" always means "its rows are in that file".
Compaction only touches landed files (below the manifests' progress).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from shopstream.processors.sinks.parquet.files import (
    Step,
    fsync_dir,
    remove,
    write_json,
    write_parquet,
)
from shopstream.processors.sinks.parquet.layout import OffsetRange, is_tmp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataFile:
    path: Path
    range: OffsetRange
    size: int


def list_data_files(directory: Path) -> list[DataFile]:
    """The range-named Parquet files of one directory, in (topic, partition, offset) order."""
    found = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_file() and entry.name.endswith(".parquet"):
                parsed = OffsetRange.parse(entry.name)
                if parsed is not None:
                    found.append(DataFile(Path(entry.path), parsed, entry.stat().st_size))
    return sorted(found, key=lambda f: f.range)


def covered_files(files: Iterable[DataFile]) -> list[DataFile]:
    """Files whose range lies within another file's in the same directory: their rows are
    in that other file (a compaction's inputs left behind by a crash)."""
    files = list(files)
    return [f for f in files if any(o is not f and o.range.covers(f.range) for o in files)]


@dataclass(frozen=True)
class CompactionRecord:
    directory: str
    """Relative to the output folder."""
    output: str
    inputs: tuple[str, ...]


class Compactor:
    """Compaction of the directories of one output folder."""

    def __init__(
        self, out: Path, records: Path, *, every: int, max_bytes: int, fsync: bool, on_step: Step
    ) -> None:
        self._out = out
        self._records = records
        self._every = every
        self._max_bytes = max_bytes
        self._fsync = fsync
        self._on_step = on_step

    def runs(self, directory: Path) -> list[list[DataFile]]:
        """The runs due for merging: ``every`` or more consecutive small files of a partition."""
        due: list[list[DataFile]] = []
        run: list[DataFile] = []
        previous: tuple[str, int] | None = None
        for f in [*list_data_files(directory), None]:
            key = None if f is None else (f.range.topic, f.range.partition)
            if f is None or key != previous or f.size >= self._max_bytes:
                if len(run) >= self._every:
                    due.append(run)
                run = []
            if f is not None and f.size < self._max_bytes:
                run.append(f)
            previous = key
        return due

    def compact(self, directory: Path) -> int:
        """Merge the due runs of ``directory``; how many files were merged."""
        merged = 0
        for run in self.runs(directory):
            self._merge(directory, run)
            merged += len(run)
        return merged

    def _merge(self, directory: Path, run: list[DataFile]) -> None:
        first, last = run[0].range, run[-1].range
        output = OffsetRange(first.topic, first.partition, first.first, last.last)
        table = pa.concat_tables([pq.read_table(f.path) for f in run], promote_options="default")
        final = directory / output.parquet_name
        write_parquet(table, final, fsync=self._fsync)
        if self._fsync:
            fsync_dir(directory)
        self._on_step("compaction.merged", final)
        record = CompactionRecord(
            str(directory.relative_to(self._out)),
            output.parquet_name,
            tuple(f.path.name for f in run),
        )
        record_path = self._record_path(record)
        write_json(
            {"directory": record.directory, "output": record.output, "inputs": record.inputs},
            record_path,
            fsync=self._fsync,
        )
        self._on_step("compaction.recorded", record_path)
        self._finish(record, record_path)
        log.debug("compacted %d files into %s", len(run), final)

    def finish_recorded(self) -> int:
        """Complete the compactions recorded before a crash (start-up); how many there were."""
        if not self._records.is_dir():
            return 0
        count = 0
        for name in sorted(os.listdir(self._records)):
            path = self._records / name
            if is_tmp(name):
                remove(path)
                continue
            document = json.loads(path.read_text("utf-8"))
            record = CompactionRecord(
                document["directory"], document["output"], tuple(document["inputs"])
            )
            self._finish(record, path)
            count += 1
        return count

    def _finish(self, record: CompactionRecord, record_path: Path) -> None:
        directory = self._out / record.directory
        if (directory / record.output).exists():
            for name in record.inputs:
                remove(directory / name)
                self._on_step("compaction.input-removed", directory / name)
            if self._fsync:
                fsync_dir(directory)
        remove(record_path)
        self._on_step("compaction.done", record_path)

    def _record_path(self, record: CompactionRecord) -> Path:
        digest = hashlib.sha256(record.directory.encode()).hexdigest()[:16]
        stem = record.output.removesuffix(".parquet")
        return self._records / f"{stem}+{digest}.json"
