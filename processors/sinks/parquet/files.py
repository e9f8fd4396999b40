"""Atomic file operations: write under a temporary name, fsync, rename into place.

``os.replace`` within one directory is atomic on POSIX file systems: a reader (or a
process restarted after kill -9) sees the old file or the new one, never a part. With
``fsync`` on, the file's bytes are flushed before the rename and the directory after it,
so the same holds after a power loss.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from shopstream.processors.sinks.parquet.layout import tmp_path

Step = Callable[[str, Path], None]
"""Told each durable step's name and path once it is done (tests raise from it to crash)."""


def no_step(step: str, path: Path) -> None:
    return None


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_parquet(table: pa.Table, final: Path, *, fsync: bool) -> None:
    """Write ``table`` to ``final`` atomically (the directory's fsync is the caller's)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(final)
    with tmp.open("wb") as out:
        pq.write_table(table, out, compression="zstd")
        if fsync:
            out.flush()
            os.fsync(out.fileno())
    os.replace(tmp, final)


def write_json(document: Mapping[str, Any], final: Path, *, fsync: bool) -> None:
    """Write ``document`` to ``final`` atomically, its directory fsynced too."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(final)
    with tmp.open("w", encoding="utf-8") as out:
        json.dump(document, out, separators=(",", ":"), sort_keys=True)
        if fsync:
            out.flush()
            os.fsync(out.fileno())
    os.replace(tmp, final)
    if fsync:
        fsync_dir(final.parent)


def remove(path: Path) -> None:
    """Delete ``path``; already gone is fine (a crash may have come after the unlink)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def remove_empty_dirs(root: Path) -> None:
    """Delete the empty directories under ``root`` (left behind by deleted orphans)."""
    if not root.is_dir():
        return
    for folder, _, _ in os.walk(root, topdown=False):
        if Path(folder) != root:
            with contextlib.suppress(OSError):  # not empty: rmdir refuses, which is the test
                os.rmdir(folder)
