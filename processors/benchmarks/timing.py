"""Interleaved timing: the systems compared take turns, so machine noise hits all alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping


def per_call_us(
    candidates: Mapping[str, Callable[[], object]], *, calls: int, rounds: int
) -> dict[str, float]:
    """Median over ``rounds`` of the mean µs per call of each candidate, taking turns each round."""
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for fn in candidates.values():  # warm caches and lazy imports
        for _ in range(min(calls, 200)):
            fn()
    for _ in range(rounds):
        for name, fn in candidates.items():
            start = time.perf_counter_ns()
            for _ in range(calls):
                fn()
            samples[name].append((time.perf_counter_ns() - start) / calls / 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


__all__ = [
    "per_call_us",
]
