"""The stages' latency histogram exports what prometheus_client's own Histogram would."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Histogram

from shopstream.processors.engine.metrics import LATENCY_BUCKETS, StageMetrics


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in registry.collect()
        for s in family.samples
        if s.name.startswith("shopstream_processing_latency_seconds")
        and not s.name.endswith("_created")
    }


def test_latency_histogram_exports_the_same_samples_as_prometheus_client() -> None:
    ours = StageMetrics("clean")
    reference_registry = CollectorRegistry()
    reference = Histogram(
        "shopstream_processing_latency_seconds",
        "Event time to processed by this stage, seconds.",
        ["stage"],
        buckets=LATENCY_BUCKETS,
        registry=reference_registry,
    )
    rng = random.Random(3)
    # every bound exactly (``le`` is inclusive), values between them, zero and past the top
    values = [0.0, *LATENCY_BUCKETS, 10 * LATENCY_BUCKETS[-1]]
    values += [rng.uniform(0, 2 * LATENCY_BUCKETS[-1]) for _ in range(500)]
    values += [rng.expovariate(2.0) for _ in range(500)]
    for stage in ("clean", "aggregate"):
        for value in values:
            ours.latency.labels(stage).observe(value)
            reference.labels(stage).observe(value)
    got, expected = _samples(ours.registry), _samples(reference_registry)
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        if name[0].endswith("_sum"):  # added up in another order
            assert abs(got[name] - value) <= 1e-9 * value
        else:
            assert got[name] == value, name
    count = ("shopstream_processing_latency_seconds_count", (("stage", "clean"),))
    assert got[count] == len(values)
