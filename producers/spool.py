"""The durable spool: an on-disk FIFO of framed Kafka records that survives an outage and an exit.

Layout under ``spool_dir``: one folder per tracker process, holding segment files
(``<n>.seg``), a ``head`` file (the replay position) and a ``lock`` file held with
``flock`` while the process lives. A tracker adopts the folders of processes that are
gone (their lock is free) and replays them before its own, oldest first.

A record is ``key length | value length | key | value | CRC-32`` (big-endian u32s). A
record torn by a crash fails its length or CRC check and ends the segment there. Writes
go to the OS at once (they survive the process being killed); ``fsync`` happens on
``sync()`` and ``close()``, so only an OS crash can lose the last moments.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import struct
import threading
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from shopstream.producers.errors import SpoolFullError

_HEAD = struct.Struct(">II")
_CRC = struct.Struct(">I")
SEGMENT_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SpoolPosition:
    """Where a read ended; ``ends`` holds where each record of that read ended, so that a
    prefix of it can be committed alone (:meth:`after`)."""

    folder: Path
    segment: int
    offset: int
    ends: tuple[tuple[int, int], ...] = ()

    def after(self, n: int) -> SpoolPosition:
        """The position just after the first ``n`` records of the read (``n`` >= 1)."""
        if n >= len(self.ends):
            return self
        segment, offset = self.ends[n - 1]
        return SpoolPosition(self.folder, segment, offset, self.ends[:n])


class _Folder:
    """One process's segments: append at the tail, read and commit from the head."""

    def __init__(self, path: Path) -> None:
        self.path = path
        head = path / "head"
        state = json.loads(head.read_text()) if head.exists() else {}
        segments = self.segments()
        self.head_segment = int(state.get("segment", segments[0] if segments else 1))
        self.head_offset = int(state.get("offset", 0))
        self.tail_segment = segments[-1] if segments else self.head_segment
        self._tail: IO[bytes] | None = None

    def segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.path.glob("*.seg"))

    def pending_bytes(self) -> int:
        total = 0
        for n in self.segments():
            if n >= self.head_segment:
                total += (self.path / f"{n}.seg").stat().st_size
        return max(0, total - self.head_offset)

    def append(self, frame: bytes) -> None:
        if self._tail is None or (
            self._tail.tell() > 0 and self._tail.tell() + len(frame) > SEGMENT_BYTES
        ):
            if self._tail is not None:
                self._tail.close()
                self.tail_segment += 1
            self._tail = (self.path / f"{self.tail_segment}.seg").open("ab", buffering=0)
        self._tail.write(frame)

    def read(self, limit: int) -> tuple[list[tuple[bytes, bytes]], SpoolPosition]:
        records: list[tuple[bytes, bytes]] = []
        ends: list[tuple[int, int]] = []
        segment, offset = self.head_segment, self.head_offset
        while len(records) < limit:
            path = self.path / f"{segment}.seg"
            if not path.exists():
                break
            with path.open("rb") as f:
                f.seek(offset)
                while len(records) < limit:
                    record = _read_frame(f)
                    if record is None:
                        break
                    records.append(record)
                    offset = f.tell()
                    ends.append((segment, offset))
            if len(records) < limit and segment < self.tail_segment:
                segment, offset = segment + 1, 0
            else:
                break
        return records, SpoolPosition(self.path, segment, offset, tuple(ends))

    def commit(self, position: SpoolPosition) -> None:
        self.head_segment, self.head_offset = position.segment, position.offset
        tmp = self.path / "head.tmp"
        tmp.write_text(json.dumps({"segment": position.segment, "offset": position.offset}))
        os.replace(tmp, self.path / "head")
        for n in self.segments():
            if n < position.segment:
                (self.path / f"{n}.seg").unlink(missing_ok=True)

    def sync(self) -> None:
        if self._tail is not None:
            os.fsync(self._tail.fileno())

    def close(self) -> None:
        if self._tail is not None:
            self.sync()
            self._tail.close()
            self._tail = None


def _read_frame(f: IO[bytes]) -> tuple[bytes, bytes] | None:
    head = f.read(_HEAD.size)
    if len(head) < _HEAD.size:
        return None
    key_len, value_len = _HEAD.unpack(head)
    if key_len + value_len > SEGMENT_BYTES:
        return None  # a torn or corrupt record: the segment ends here
    body = f.read(key_len + value_len)
    crc = f.read(_CRC.size)
    if len(body) < key_len + value_len or len(crc) < _CRC.size:
        return None
    if _CRC.unpack(crc)[0] != zlib.crc32(body):
        return None
    return body[:key_len], body[key_len:]


def _frame(key: bytes, value: bytes) -> bytes:
    body = key + value
    return _HEAD.pack(len(key), len(value)) + body + _CRC.pack(zlib.crc32(body))


class Spool:
    """A bounded FIFO of (key, value) records on disk, shared safely by many processes."""

    def __init__(self, root: Path, *, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        own = root / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        own.mkdir()
        self._lock_file = (own / "lock").open("w")
        fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._own = _Folder(own)
        self._adopted = list(self._adopt_orphans())
        self._bytes = sum(f.pending_bytes() for f in self._adopted)
        self._refused = False

    def _adopt_orphans(self) -> Iterator[_Folder]:
        folders = sorted(
            (p for p in self.root.iterdir() if p.is_dir() and p != self._own.path),
            key=lambda p: p.stat().st_mtime,
        )
        for path in folders:
            lock = path / "lock"
            try:
                handle = lock.open("a")
            except OSError:
                continue
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()  # its process still runs
                continue
            folder = _Folder(path)
            folder.lock_handle = handle  # type: ignore[attr-defined]  # held until drained
            yield folder

    @property
    def pending_bytes(self) -> int:
        return self._bytes

    @property
    def is_full(self) -> bool:
        """At its bound, or it refused a record since the last replay freed room."""
        return self._refused or self._bytes >= self.max_bytes

    def __bool__(self) -> bool:
        return self._bytes > 0

    def append(self, key: bytes, value: bytes) -> None:
        frame = _frame(key, value)
        with self._lock:
            if self._bytes + len(frame) > self.max_bytes:
                self._refused = True
                raise SpoolFullError(
                    f"spool at {self.root} holds {self._bytes} of {self.max_bytes} bytes"
                )
            self._own.append(frame)
            self._bytes += len(frame)

    def read(self, limit: int = 500) -> tuple[list[tuple[bytes, bytes]], SpoolPosition | None]:
        """The oldest records, up to ``limit``; commit their position once they are delivered
        (or ``position.after(n)`` with ``records[:n]`` when only the first ``n`` were)."""
        with self._lock:
            for folder in [*self._adopted, self._own]:
                records, position = folder.read(limit)
                if records:
                    return records, position
                if folder is not self._own:
                    self._drop_adopted(folder)
            return [], None

    def commit(self, position: SpoolPosition, records: list[tuple[bytes, bytes]]) -> None:
        with self._lock:
            folder = next(f for f in [*self._adopted, self._own] if f.path == position.folder)
            folder.commit(position)
            self._refused = False
            self._bytes = max(
                0, self._bytes - sum(_HEAD.size + len(k) + len(v) + _CRC.size for k, v in records)
            )

    def _drop_adopted(self, folder: _Folder) -> None:
        self._adopted.remove(folder)
        shutil.rmtree(folder.path, ignore_errors=True)

    def sync(self) -> None:
        with self._lock:
            self._own.sync()

    def close(self) -> None:
        with self._lock:
            self._own.close()
            empty = self._own.pending_bytes() == 0
            if empty:
                shutil.rmtree(self._own.path, ignore_errors=True)
            with contextlib.suppress(OSError):
                self._lock_file.close()

    def release_after_fork(self) -> None:
        """In a forked child: forget the parent's spool without touching its files or lock."""
        with contextlib.suppress(OSError):
            self._lock_file.close()
        self._own._tail = None


__all__ = ["SEGMENT_BYTES", "Spool", "SpoolPosition"]
