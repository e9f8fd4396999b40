"""Interleaved timing: the systems compared take turns, so machine noise hits all alike."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any


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


def machine_info(*, packages: tuple[str, ...], **extra: Any) -> dict[str, Any]:
    """What a benchmark ran on: CPU, platform, load, and the versions of ``packages``."""
    import confluent_kafka

    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break

    def version(distribution: str) -> str | None:
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            return None

    return {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        **extra,
        **{name.replace("-", "_"): version(name) for name in packages},
        "librdkafka": confluent_kafka.libversion()[0],
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }
