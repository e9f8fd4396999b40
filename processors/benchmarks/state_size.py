"""Bytes of state per buyer: the stored JSON form, and the stage's RocksDB folder.

The clean events (stage 1's output) are replayed in-process through
:func:`~shopstream.processors.aggregate.apply_event`, as stage 2 does, and each buyer's
``state.to_json()`` is measured as compact JSON: what stage 2 keeps per buyer, before
RocksDB. The replay is timed too, decode and update apart: the pure cost per event that
no engine can beat.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopstream.processors.aggregate import AggregateSettings, BuyerState, apply_event, buyer_key
from shopstream.schemas.codec import Codec
from shopstream.schemas.pseudonymised import load_clean_contract


@dataclass(frozen=True)
class Replay:
    buyers: int
    events: int
    mean_json_bytes: float
    median_json_bytes: float
    max_json_bytes: int
    decode_us: float
    """Mean µs to decode one clean event."""
    apply_us: float
    """Mean µs per event of ``BuyerState.from_json``, ``apply_event`` and ``to_json``: the
    domain work of stage 2 on its stored form, without the engine and RocksDB."""


def replay(values: Iterable[bytes], settings: AggregateSettings | None = None) -> Replay:
    """Count the clean events into per-buyer states (as stage 2 does) and measure them."""
    settings = settings or AggregateSettings()
    codec = Codec(load_clean_contract())
    clock = time.perf_counter_ns
    decoded = []
    started = clock()
    for value in values:
        decoded.append(codec.decode(value))
    decode_ns = clock() - started
    # As stage 2 keeps them: the JSON form, read back into a BuyerState for each event.
    stored: dict[tuple[str, str], dict[str, Any]] = {}
    started = clock()
    for event in decoded:
        key = buyer_key(event.record, event.name)
        if key is None:
            continue
        previous = stored.get(key)
        current = BuyerState.from_json(previous) if previous is not None else None
        state, _ = apply_event(current, event.name, event.record, settings)
        if state is not None:
            stored[key] = state.to_json()
    apply_ns = clock() - started
    sizes = [len(json.dumps(s, separators=(",", ":"))) for s in stored.values()]
    count = max(1, len(decoded))
    return Replay(
        buyers=len(sizes),
        events=len(decoded),
        mean_json_bytes=statistics.fmean(sizes) if sizes else 0.0,
        median_json_bytes=statistics.median(sizes) if sizes else 0.0,
        max_json_bytes=max(sizes, default=0),
        decode_us=decode_ns / count / 1000,
        apply_us=apply_ns / count / 1000,
    )


def folder_bytes(path: Path) -> int:
    """Total size of the files under ``path``."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


__all__ = ["Replay", "folder_bytes", "replay"]
