"""The on-disk spool: FIFO across segments and processes, bounded, torn tails survived."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shopstream.producers import spool as spool_module
from shopstream.producers.errors import SpoolFullError
from shopstream.producers.spool import Spool


def _fill(spool: Spool, n: int, start: int = 0) -> list[tuple[bytes, bytes]]:
    records = [(f"k{i}".encode(), f"value-{i}".encode() * 3) for i in range(start, start + n)]
    for key, value in records:
        spool.append(key, value)
    return records


def _drain(spool: Spool) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    while True:
        records, position = spool.read(37)
        if not records or position is None:
            return out
        spool.commit(position, records)
        out.extend(records)


def test_records_come_back_in_order_across_segments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool_module, "SEGMENT_BYTES", 512)  # many small segments
    spool = Spool(tmp_path, max_bytes=10**6)
    written = _fill(spool, 300)
    assert spool.pending_bytes > 0
    assert _drain(spool) == written
    assert spool.pending_bytes == 0
    assert not bool(spool)


def test_an_uncommitted_read_is_read_again(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    written = _fill(spool, 10)
    first, _ = spool.read(4)
    again, position = spool.read(4)
    assert first == again == written[:4]
    assert position is not None
    spool.commit(position, again)
    assert spool.read(100)[0] == written[4:]


def test_the_bound_is_enforced(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1024)
    with pytest.raises(SpoolFullError):
        _fill(spool, 100)
    assert spool.is_full  # it refused a record: full for the collector, though a few bytes are free
    assert spool.pending_bytes <= 1024
    records, position = spool.read(5)
    assert position is not None
    spool.commit(position, records)
    assert not spool.is_full


def test_a_dead_process_spool_is_adopted_and_replayed_first(tmp_path: Path) -> None:
    pid = os.fork()
    if pid == 0:  # a process that spools and dies without closing
        child = Spool(tmp_path, max_bytes=10**6)
        _fill(child, 50)
        os._exit(0)
    os.waitpid(pid, 0)
    spool = Spool(tmp_path, max_bytes=10**6)
    own = _fill(spool, 5, start=1000)
    drained = _drain(spool)
    assert drained[:50] == [(f"k{i}".encode(), f"value-{i}".encode() * 3) for i in range(50)]
    assert drained[50:] == own


def test_a_live_process_spool_is_left_alone(tmp_path: Path) -> None:
    first = Spool(tmp_path, max_bytes=10**6)
    _fill(first, 5)
    second = Spool(tmp_path, max_bytes=10**6)
    assert _drain(second) == []
    assert len(_drain(first)) == 5


def test_a_torn_last_record_ends_the_spool_there(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    written = _fill(spool, 3)
    segment = next(tmp_path.glob("*/1.seg"))
    with segment.open("ab") as f:
        f.write(b"\x00\x00\x00\x05\x00\x00\x00\x40abc")  # a crash mid-write
    assert spool.read(10)[0] == written


def test_a_closed_empty_spool_leaves_no_folder(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    _fill(spool, 3)
    _drain(spool)
    spool.close()
    assert list(tmp_path.iterdir()) == []


def test_a_prefix_of_a_read_can_be_committed_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool_module, "SEGMENT_BYTES", 256)  # the read spans segments
    spool = Spool(tmp_path, max_bytes=10**6)
    written = _fill(spool, 40)
    records, position = spool.read(30)
    assert position is not None
    assert position.segment > 1
    spool.commit(position.after(17), records[:17])  # only the first 17 were acknowledged
    assert _drain(spool) == written[17:]
    assert spool.pending_bytes == 0
