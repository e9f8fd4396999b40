"""SimulatedKillError at every step of a batch, a latest rewrite and a compaction; restart; the folder
must then hold every offset exactly once, and the latest snapshots must be right.

A crash is simulated by raising from the writer's step hook (after a rename, a record or a
delete) or from ``os.replace`` itself (a temporary file left behind); the crashed writer is
abandoned without flushing anything, as kill -9 would, and a new one opens the folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shopstream.processors.sinks.parquet.compaction import covered_files, list_data_files
from shopstream.processors.sinks.parquet.layout import OffsetRange

from .sink_parquet_data import (
    CLEAN,
    FEATURES,
    Topic,
    clean_topic,
    expected_offsets,
    features_topic,
    feed,
    newest,
    offsets,
    read_dataset,
    writer_factory,
)

STEPS = [
    "batch.file",
    "batch.manifest",
    "latest.written",
    "compaction.merged",
    "compaction.recorded",
    "compaction.input-removed",
    "compaction.done",
]


class SimulatedKillError(Exception):
    """Stands for kill -9."""


def crash_at(step: str, occurrence: int, within: str = "") -> Callable[[str, Path], None]:
    """Raise at the ``occurrence``-th ``step`` (on a path containing ``within``)."""
    seen = [0]

    def hook(name: str, path: Path) -> None:
        if name == step and within in str(path):
            seen[0] += 1
            if seen[0] == occurrence:
                raise SimulatedKillError(f"{step} #{occurrence} ({path.name})")

    return hook


@pytest.fixture(scope="module")
def topics() -> dict[str, Topic]:
    return {CLEAN: clean_topic(count=40), FEATURES: features_topic(count=40)}


def run_until_crash(out: Path, topics: dict[str, Topic], hook: Any) -> bool:
    """Feed with ``hook``; True if it crashed. The writer is left without a flush."""
    writer = writer_factory(out, compact_every=3)(on_step=hook)
    try:
        feed(writer, topics, 3)
    except SimulatedKillError:
        writer.close()  # a failed writer only releases its lock: nothing else is written
        return True
    writer.close()
    return False


def finish(out: Path, topics: dict[str, Topic]) -> None:
    writer = writer_factory(out, compact_every=3)()
    feed(writer, topics, 3)
    writer.close()


def assert_exact(out: Path, topics: dict[str, Topic]) -> None:
    assert offsets(read_dataset(out / "events")) == expected_offsets(topics[CLEAN])
    assert offsets(read_dataset(out / "features" / "history")) == expected_offsets(topics[FEATURES])
    latest = read_dataset(out / "features" / "latest").to_pylist()
    got = {
        (r["shop_id"], r["buyer_pseudonym"]): (
            r["event_timestamp"],
            r["kafka_partition"],
            r["kafka_offset"],
        )
        for r in latest
    }
    assert len(got) == len(latest)
    assert got == newest(topics[FEATURES])
    leftovers = [p for p in out.rglob(".*") if p.is_file()]
    assert not leftovers, leftovers
    assert not list((out / "_sink" / "compactions").glob("*"))
    for root in (out / "events", out / "features" / "history"):
        for folder, _, names in os.walk(root):
            if names:
                assert not covered_files(list_data_files(Path(folder))), folder


def test_without_a_crash_the_folder_is_exact(tmp_path: Path, topics: dict[str, Topic]) -> None:
    assert not run_until_crash(tmp_path, topics, None)
    assert_exact(tmp_path, topics)


@pytest.mark.parametrize("occurrence", [1, 4])
@pytest.mark.parametrize("step", STEPS)
def test_a_crash_after_any_step_is_recovered(
    tmp_path: Path, topics: dict[str, Topic], step: str, occurrence: int
) -> None:
    assert run_until_crash(tmp_path, topics, crash_at(step, occurrence)), "the crash happened"
    finish(tmp_path, topics)
    assert_exact(tmp_path, topics)


@pytest.mark.parametrize("occurrence", [1, 3, 8, 20, 45])
def test_a_crash_inside_an_atomic_write_leaves_only_a_tmp_file(
    tmp_path: Path, topics: dict[str, Topic], occurrence: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = [0]
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        calls[0] += 1
        if calls[0] == occurrence:
            raise SimulatedKillError(f"before renaming {src}")
        real_replace(src, dst)

    monkeypatch.setattr("shopstream.processors.sinks.parquet.files.os.replace", replace)
    assert run_until_crash(tmp_path, topics, None)
    assert [p for p in tmp_path.rglob(".*.tmp")], "the crash left its temporary file"
    monkeypatch.undo()
    finish(tmp_path, topics)
    assert_exact(tmp_path, topics)


@pytest.mark.parametrize(
    ("first", "during_recovery"),
    [("compaction.recorded", "compaction.input-removed"), ("batch.manifest", "latest.written")],
)
def test_a_crash_during_recovery_is_recovered_by_the_next_start(
    tmp_path: Path, topics: dict[str, Topic], first: str, during_recovery: str
) -> None:
    assert run_until_crash(tmp_path, topics, crash_at(first, 2, within="features"))
    with pytest.raises(SimulatedKillError):
        writer_factory(tmp_path, compact_every=3)(on_step=crash_at(during_recovery, 1))
    finish(tmp_path, topics)
    assert_exact(tmp_path, topics)


def test_orphans_and_covered_files_are_removed_at_start_up(
    tmp_path: Path, topics: dict[str, Topic]
) -> None:
    finish(tmp_path, topics)
    # A file of a batch past the progress (no manifest), and a stray copy of part of a
    # merged file's range (a compaction input that survived).
    sample = next((tmp_path / "features" / "history").rglob("*.parquet"))
    found = OffsetRange.parse(sample.name)
    assert found is not None
    beyond = OffsetRange(found.topic, found.partition, 10_000, 10_005)
    shutil.copy(sample, sample.with_name(beyond.parquet_name))
    merged = next(
        p
        for p in (tmp_path / "features" / "history").rglob("*.parquet")
        if (r := OffsetRange.parse(p.name)) is not None and r.last > r.first
    )
    inner = OffsetRange.parse(merged.name)
    assert inner is not None
    stray = OffsetRange(inner.topic, inner.partition, inner.first, inner.first)
    shutil.copy(merged, merged.with_name(stray.parquet_name))
    writer = writer_factory(tmp_path, compact_every=3)()
    assert writer.recovery.orphans_removed == 1
    assert writer.recovery.covered_removed == 1
    writer.close()
    assert_exact(tmp_path, topics)


def test_a_folder_without_manifests_is_written_again_from_the_start(
    tmp_path: Path, topics: dict[str, Topic]
) -> None:
    finish(tmp_path, topics)
    shutil.rmtree(tmp_path / "_sink" / "manifests")
    writer = writer_factory(tmp_path, compact_every=3)()
    assert writer.resume_offsets(CLEAN, [0, 1]) == {}
    assert writer.recovery.orphans_removed > 0
    feed(writer, topics, 3)
    writer.close()
    assert_exact(tmp_path, topics)
