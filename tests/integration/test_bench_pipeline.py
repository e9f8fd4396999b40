"""`shopstream bench pipeline` end to end on the test broker, with a few hundred events.

A smoke test of the machinery (stages as processes, committed-offset timing, the latency
run, the state replay), not of the figures: with so few events a rate may even be None.
"""

from __future__ import annotations

from shopstream.processors.benchmarks import pipeline
from shopstream.processors.engine.settings import StageSettings
from tests.unit.test_bench_pipeline_shape import assert_shape


def test_bench_pipeline_measures_every_system(kafka_bootstrap: str) -> None:
    parameters = pipeline.Parameters(
        events=600,
        buyers=30,
        rounds=1,
        latency_seconds=2,
        latency_rate=100,
        latency_warmup_s=0.5,
        timeout_s=120,
    )
    messages: list[str] = []
    results = pipeline.run(parameters, bootstrap_servers=kafka_bootstrap, progress=messages.append)
    print("\n".join(messages))  # shown when the test fails

    assert_shape(results)
    stage1 = results["stage1"]
    assert stage1["clean"] + stage1["dead_letters"] == 600
    assert stage1["dead_letters"] == 12  # 2 % bad
    assert results["stage2"]["features_messages"] > 0
    assert results["state"]["buyers"] > 0
    assert results["end_to_end"]["latency"]["produced"] == 250
    assert results["end_to_end"]["latency"]["samples"] > 0
    # None in the parameters: the stages' own default, recorded as the value used.
    default = StageSettings.model_fields["commit_interval_s"].default
    assert results["parameters"]["commit_interval_s"] == default
