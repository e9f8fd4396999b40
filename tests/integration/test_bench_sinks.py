"""`shopstream bench sinks` on the test broker and PostgreSQL server, with a few hundred rows.

A smoke test of the machinery (input in transactions, warm-up, every system, a database
per round, the figures), not of the figures themselves.
"""

from __future__ import annotations

from shopstream.processors.benchmarks import sinks
from tests.unit.test_bench_sinks_shape import assert_shape


def test_bench_sinks_measures_both_sinks_and_the_baseline(
    kafka_bootstrap: str, postgres_dsn: str
) -> None:
    parameters = sinks.Parameters(rows=300, rounds=1, batch_interval_s=0.5, timeout_s=120)
    results = sinks.run(parameters, bootstrap_servers=kafka_bootstrap, dsn=postgres_dsn)

    assert_shape(results)
    assert results["parquet"]["rows"] == 600  # clean events and features versions
    assert results["postgres"]["rows"] == 300
    assert results["postgres"]["history_rows"] == 300
    assert 0 < results["postgres"]["latest_rows"] <= 300
    assert results["parquet"]["files"] > 0
    # The baseline counts the rows after its first fetch: with so few, maybe none.
    assert 0 <= results["baseline"]["features"]["rows"] < 300
    assert results["baseline"]["clean_and_features"]["rounds"][0]["join_s"] > 0
    assert results["input"]["features_rows"] == 300
    assert results["machine"]["postgresql"] == "external server"
