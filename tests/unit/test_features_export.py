"""The point-in-time training set: never a version from after as-of, ties settled, RFM added."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from shopstream.processors.cli import app
from shopstream.processors.features import DatasetError, ExportError, point_in_time, training_set
from shopstream.processors.features.export import RFM_COLUMNS, export_training_set, parse_as_of
from shopstream.processors.rfm import RfmScore, grade, rfm_scores
from tests.unit.test_features_layout import HISTORY_SCHEMA, features_record, utc, write_history

A, B, C = "a" * 64, "b" * 64, "c" * 64


def table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=HISTORY_SCHEMA)


def picked(result: pa.Table) -> dict[tuple[str, str], int]:
    """(shop, buyer) -> the orders of the chosen version (orders tell versions apart here)."""
    return {(r["shop_id"], r["buyer_pseudonym"]): r["orders"] for r in result.to_pylist()}


@pytest.fixture
def two_versions() -> pa.Table:
    """Buyer A: versions on 1 and 10 March; buyer B: one version on 5 March."""
    return table(
        [
            features_record("shop-a", A, utc("2026-03-01T10:00"), orders=1, offset=1),
            features_record("shop-a", A, utc("2026-03-10T10:00"), orders=2, offset=7),
            features_record("shop-a", B, utc("2026-03-05T10:00"), orders=5, offset=3),
        ]
    )


def test_between_two_versions_the_earlier_one_holds(two_versions: pa.Table) -> None:
    assert picked(point_in_time(two_versions, utc("2026-03-07T00:00"))) == {
        ("shop-a", A): 1,
        ("shop-a", B): 5,
    }


def test_a_version_is_valid_from_its_own_timestamp_on(two_versions: pa.Table) -> None:
    at = utc("2026-03-10T10:00")
    assert picked(point_in_time(two_versions, at))[("shop-a", A)] == 2
    before = at - dt.timedelta(milliseconds=1)
    assert picked(point_in_time(two_versions, before))[("shop-a", A)] == 1


def test_before_a_buyers_first_version_the_buyer_is_absent(two_versions: pa.Table) -> None:
    assert picked(point_in_time(two_versions, utc("2026-03-03T00:00"))) == {("shop-a", A): 1}
    assert point_in_time(two_versions, utc("2026-02-01T00:00")).num_rows == 0


def test_a_version_from_after_as_of_is_never_used_even_if_created_before() -> None:
    # A late correction: valid as of 10 March, produced on 2 March (event_timestamp rules).
    rows = [
        features_record("shop-a", A, utc("2026-03-01T10:00"), orders=1, offset=1),
        features_record(
            "shop-a", A, utc("2026-03-10T10:00"), created=utc("2026-03-02T00:00"), orders=9
        ),
    ]
    assert picked(point_in_time(table(rows), utc("2026-03-05T00:00"))) == {("shop-a", A): 1}


def test_ties_go_to_the_latest_created_then_the_greatest_offset() -> None:
    t = utc("2026-03-01T10:00")
    rows = [
        features_record("shop-a", A, t, created=utc("2026-03-01T12:00"), orders=2, offset=1),
        features_record("shop-a", A, t, created=utc("2026-03-01T11:00"), orders=1, offset=9),
        features_record("shop-a", B, t, created=t, orders=3, offset=4),
        features_record("shop-a", B, t, created=t, orders=4, offset=5),
    ]
    for order in ([0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2]):
        result = point_in_time(table([rows[i] for i in order]), utc("2026-03-02T00:00"))
        assert picked(result) == {("shop-a", A): 2, ("shop-a", B): 4}


def test_the_same_pseudonym_in_two_shops_is_two_buyers() -> None:
    rows = [
        features_record("shop-a", A, utc("2026-03-01T10:00"), orders=1),
        features_record("shop-b", A, utc("2026-03-02T10:00"), orders=2),
    ]
    assert picked(point_in_time(table(rows), utc("2026-03-03T00:00"))) == {
        ("shop-a", A): 1,
        ("shop-b", A): 2,
    }


def test_a_naive_as_of_is_utc(two_versions: pa.Table) -> None:
    naive = dt.datetime(2026, 3, 10, 10, 0)
    assert picked(point_in_time(two_versions, naive))[("shop-a", A)] == 2
    seoul = dt.datetime(2026, 3, 10, 19, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    assert picked(point_in_time(two_versions, seoul))[("shop-a", A)] == 2


_version = st.tuples(
    st.sampled_from(["shop-a", "shop-b"]),
    st.sampled_from([A, B, C]),
    st.integers(0, 20),  # event day
    st.integers(0, 3),  # created, hours after
    st.integers(0, 5),  # offset
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_version, max_size=25), st.integers(0, 22), st.randoms(use_true_random=False))
def test_the_choice_equals_a_direct_search_and_ignores_row_order(
    versions: list[tuple[str, str, int, int, int]], as_of_day: int, rng: random.Random
) -> None:
    base = utc("2026-03-01T00:00")
    rows = [
        features_record(
            shop,
            buyer,
            base + dt.timedelta(days=day),
            created=base + dt.timedelta(days=day, hours=created),
            offset=offset,
            orders=i,  # the version's identity
        )
        for i, (shop, buyer, day, created, offset) in enumerate(versions)
    ]
    as_of = base + dt.timedelta(days=as_of_day)
    expected: dict[tuple[str, str], int] = {}
    best: dict[tuple[str, str], tuple[Any, ...]] = {}
    for row in rows:
        if row["event_timestamp"] > as_of:
            continue
        key = (row["shop_id"], row["buyer_pseudonym"])
        rank = (
            row["event_timestamp"],
            row["created_timestamp"],
            row["kafka_offset"],
            row["orders"],
        )
        if key not in best or rank[:3] > best[key][:3]:
            best[key], expected[key] = rank, row["orders"]
    shuffled = rows[:]
    rng.shuffle(shuffled)
    result = picked(point_in_time(table(shuffled), as_of))
    # Exact ties (same time, created and offset) are genuinely equal versions: any may win.
    ties = {
        k
        for k, rank in best.items()
        if sum(
            1
            for r in rows
            if (r["shop_id"], r["buyer_pseudonym"]) == k
            and (r["event_timestamp"], r["created_timestamp"], r["kafka_offset"]) == rank[:3]
        )
        > 1
    }
    assert result.keys() == expected.keys()
    assert {k: v for k, v in result.items() if k not in ties} == {
        k: v for k, v in expected.items() if k not in ties
    }


# -- the training set ---------------------------------------------------------------------------


def shop_history() -> list[dict[str, Any]]:
    """Five buyers of shop-a with known RFM, one non-buyer, and shop-b; two versions of A."""
    t = utc("2026-03-20T10:00")
    rows = [
        features_record(
            "shop-a",
            f"{i:064x}",
            t - dt.timedelta(days=i),
            orders=i,
            spend=1000 * i,
            recency_days=0,
            offset=i,
        )
        for i in range(1, 6)
    ]
    rows.append(features_record("shop-a", "f" * 64, t, orders=0, spend=0, offset=6))
    rows.append(features_record("shop-b", A, t, orders=3, spend=500, recency_days=2, offset=1))
    # A later version of buyer 1, after the as-of date below: must not count.
    rows.append(
        features_record(
            "shop-a",
            f"{1:064x}",
            utc("2026-03-25T10:00"),
            orders=50,
            spend=10**9,
            recency_days=0,
            offset=9,
        )
    )
    return rows


def test_the_training_set_has_the_features_and_rfm_of_the_exported_population() -> None:
    as_of = parse_as_of("2026-03-20")
    result = training_set(table(shop_history()), as_of)
    assert result.column_names[-4:] == list(RFM_COLUMNS)
    assert "event_timestamp" not in result.column_names
    assert "kafka_offset" not in result.column_names
    rows = {(r["shop_id"], r["buyer_pseudonym"]): r for r in result.to_pylist()}
    assert rows[("shop-a", f"{1:064x}")]["orders"] == 1  # not the version of 25 March
    # Buyer i was last seen i days before the 20th, ordered i times, spent 1000 i.
    scores = {
        b[-1]: (r["rfm_recency"], r["rfm_frequency"], r["rfm_monetary"])
        for (s, b), r in rows.items()
        if s == "shop-a" and b != "f" * 64
    }
    assert scores == {
        "1": (5, 1, 1),
        "2": (4, 2, 2),
        "3": (3, 3, 3),
        "4": (2, 4, 4),
        "5": (1, 5, 5),
    }
    assert rows[("shop-a", "f" * 64)]["customer_grade"] == "prospect"
    assert rows[("shop-a", "f" * 64)]["rfm_recency"] == 0
    assert rows[("shop-b", A)]["rfm_recency"] == 1  # alone in its shop
    expected = rfm_scores(
        [
            {
                k: r[k]
                for k in (
                    "shop_id",
                    "buyer_pseudonym",
                    "as_of",
                    "orders",
                    "recency_days",
                    "spend",
                    "currency",
                )
            }
            for r in rows.values()
        ],
        reference=dt.date(2026, 3, 20),
    )
    for key, row in rows.items():
        assert row["customer_grade"] == grade(expected[key])


def test_rfm_is_computed_within_the_exported_shop_only() -> None:
    result = training_set(table(shop_history()), parse_as_of("2026-03-20"), shop="shop-b")
    assert result["shop_id"].to_pylist() == ["shop-b"]
    row = result.to_pylist()[0]
    # Alone in its shop: scored 1, 1, 1 (processors/rfm.py), graded by the same rules.
    assert (row["rfm_recency"], row["rfm_frequency"], row["rfm_monetary"]) == (1, 1, 1)
    assert row["customer_grade"] == grade(RfmScore(1, 1, 1))


def test_as_of_a_date_means_the_end_of_that_utc_day() -> None:
    assert parse_as_of("2026-03-20") == utc("2026-03-20T23:59:59.999")
    assert parse_as_of("2026-03-20T12:00") == utc("2026-03-20T12:00")
    assert parse_as_of("2026-03-20T12:00+09:00") == utc("2026-03-20T03:00")
    with pytest.raises(ExportError, match="neither a date"):
        parse_as_of("yesterday")


def test_the_export_writes_parquet_and_csv(tmp_path: Path) -> None:
    rows = shop_history()
    rows[0]["top_categories"] = ["c-1", "c-2"]
    write_history(tmp_path / "data", rows)
    as_of = parse_as_of("2026-03-20")
    summary = export_training_set(tmp_path / "data", as_of, tmp_path / "out" / "train.parquet")
    assert (summary.buyers, summary.shops) == (7, 2)
    written = pq.read_table(tmp_path / "out" / "train.parquet")
    assert written.equals(training_set(table(rows), as_of))
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["train.parquet"]

    export_training_set(tmp_path / "data", as_of, tmp_path / "train.csv")
    csv = pacsv.read_csv(tmp_path / "train.csv").to_pylist()
    assert len(csv) == 7
    first = next(r for r in csv if r["buyer_pseudonym"] == f"{1:064x}")
    assert json.loads(first["top_categories"]) == ["c-1", "c-2"]
    assert first["orders"] == 1


def test_the_export_refuses_other_formats_and_missing_data(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"\.parquet or \.csv"):
        export_training_set(tmp_path, utc("2026-03-20T00:00"), tmp_path / "x.json")
    with pytest.raises(DatasetError, match="no features history"):
        export_training_set(tmp_path, utc("2026-03-20T00:00"), tmp_path / "x.csv")


def test_the_cli_exports_and_exits_1_without_data(tmp_path: Path) -> None:
    write_history(tmp_path / "data", shop_history())
    out = tmp_path / "train.parquet"
    args = ["features", "export", "--as-of", "2026-03-20", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--data", str(tmp_path / "data"), "--shop", "shop-a"])
    assert result.exit_code == 0, result.output
    assert "6 buyers of 1 shop(s)" in result.output
    assert set(pq.read_table(out)["shop_id"].to_pylist()) == {"shop-a"}
    result = CliRunner().invoke(app, [*args, "--data", str(tmp_path / "nothing")])
    assert result.exit_code == 1
    assert "no features history" in result.output


def test_tie_breakers_the_table_lacks_are_skipped_and_null_ones_lose() -> None:
    t = utc("2026-03-01T10:00")
    bare = pa.table(
        {
            "shop_id": ["s", "s", "s"],
            "buyer_pseudonym": [A, A, B],
            "event_timestamp": pa.array(
                [t, t + dt.timedelta(hours=1), t], pa.timestamp("ms", "UTC")
            ),
            "orders": [1, 2, 3],
        }
    )
    assert picked(point_in_time(bare, t + dt.timedelta(days=1))) == {("s", A): 2, ("s", B): 3}
    with_null = bare.append_column(
        "created_timestamp", pa.array([None, None, t], pa.timestamp("ms", "UTC"))
    ).append_column("kafka_offset", pa.array([5, None, 1], pa.int64()))
    tied = with_null.set_column(
        2, "event_timestamp", pa.array([t, t, t], pa.timestamp("ms", "UTC"))
    )
    assert picked(point_in_time(tied, t))[("s", A)] == 1  # offset 5 beats a null offset
    with pytest.raises(ValueError, match="event_timestamp"):
        point_in_time(bare.drop_columns(["event_timestamp"]), t)


def test_duckdb_reading_the_sinks_files_picks_the_same_versions(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    rows = shop_history()
    rows.append(
        features_record(
            "shop-a",
            f"{2:064x}",
            utc("2026-03-20T10:00"),
            created=utc("2026-03-20T12:00"),
            orders=7,
            offset=2,
        )
    )
    write_history(tmp_path, rows)
    as_of = parse_as_of("2026-03-20")
    glob = str(tmp_path / "features" / "history" / "*" / "*.parquet")
    query = f"""
        SELECT shop_id, buyer_pseudonym, orders FROM read_parquet('{glob}', hive_partitioning = false)
        WHERE event_timestamp <= TIMESTAMPTZ '{as_of.isoformat()}'
        QUALIFY row_number() OVER (PARTITION BY shop_id, buyer_pseudonym
            ORDER BY event_timestamp DESC, created_timestamp DESC, kafka_offset DESC) = 1
    """  # noqa: S608 (a test's own path)
    by_duckdb = {(s, b): o for s, b, o in duckdb.sql(query).fetchall()}
    assert by_duckdb == picked(point_in_time(table(rows), as_of))
    assert by_duckdb[("shop-a", f"{2:064x}")] == 7
