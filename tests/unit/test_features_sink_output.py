"""Export and package on what the Parquet sink itself writes (its ParquetWriter, real aggregates)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopstream.processors.features import build_package, export_training_set
from shopstream.processors.features.export import RFM_COLUMNS
from tests.unit.sink_parquet_data import (
    CLEAN,
    FEATURES,
    clean_topic,
    features_topic,
    feed,
    writer_factory,
)
from tests.unit.test_features_package import groups_in


@pytest.fixture(scope="module")
def topics() -> dict[str, Any]:
    return {CLEAN: clean_topic(100), FEATURES: features_topic(100)}


@pytest.fixture(scope="module")
def sink_out(tmp_path_factory: pytest.TempPathFactory, topics: dict[str, Any]) -> Path:
    out = tmp_path_factory.mktemp("sink")
    writer = writer_factory(out)()
    feed(writer, topics, size=13)
    writer.close()
    return out


def test_the_export_of_the_sinks_history_is_point_in_time(
    sink_out: Path, topics: dict[str, Any], tmp_path: Path
) -> None:
    versions = [r for records in topics[FEATURES].values() for r in records]
    moments = sorted({r.event.record["as_of"] for r in versions})
    as_of = moments[len(moments) // 2]  # exactly one version's time: inclusive
    # The direct search: per buyer, the greatest (as_of, produced, offset) at or before as_of.
    best: dict[tuple[str, str], tuple[Any, ...]] = {}
    for r in versions:
        rec = r.event.record
        if rec["as_of"] > as_of:
            continue
        key = (rec["shop_id"], rec["buyer_pseudonym"])
        rank = (rec["as_of"], r.timestamp_ms, r.offset, r.partition, rec["events"], rec["spend"])
        best[key] = max(best.get(key, rank), rank)
    assert (
        0
        < len(best)
        < len({(r.event.record["shop_id"], r.event.record["buyer_pseudonym"]) for r in versions})
        or best
    )

    export_training_set(sink_out, as_of, tmp_path / "train.parquet")
    table = pq.read_table(tmp_path / "train.parquet")
    got = {
        (r["shop_id"], r["buyer_pseudonym"]): (r["as_of"], r["events"], r["spend"])
        for r in table.to_pylist()
    }
    assert got == {k: (v[0], v[4], v[5]) for k, v in best.items()}
    assert table.column_names[-4:] == list(RFM_COLUMNS)
    assert all(1 <= s <= 5 or s == 0 for s in table["rfm_recency"].to_pylist())


def test_the_package_of_the_sinks_output_has_dates_only_and_k_anonymous_groups(
    sink_out: Path, tmp_path: Path
) -> None:
    summary = build_package(sink_out, tmp_path / "pkg", k=2)
    files = list((tmp_path / "pkg").rglob("*.parquet"))
    assert any("event_type=signup" in str(p) for p in files)
    for path in files:
        schema = pq.read_schema(path)
        assert not any(pa.types.is_timestamp(f.type) for f in schema), path
    groups = groups_in(tmp_path / "pkg")
    assert groups
    assert min(len(b) for b in groups.values()) >= 2
    assert summary.plan.buyers > 0
    features = pq.read_table(tmp_path / "pkg" / "features", partitioning=None)
    assert features.schema.field("as_of").type == pa.date32()
