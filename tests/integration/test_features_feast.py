"""Feast's historical retrieval over the Parquet features history equals the export.

Runs the real feature repository (deploy/feast/: feature_store.yaml and
buyer_features.py), copied to a temporary folder so that its registry lands there, with
SHOPSTREAM_FEAST_DATA pointing at a history written in the sink's layout. No broker.
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from shopstream.processors.features import training_set
from tests.unit.test_features_layout import HISTORY_SCHEMA, features_record, utc, write_history

REPO = Path(__file__).resolve().parents[2] / "deploy" / "feast"
A, B = "a" * 64, "b" * 64


def history() -> list[dict[str, Any]]:
    """Buyer A of shop-a: two versions (1 and 10 March); B: one (5 March); A of shop-b: one."""
    return [
        features_record(
            "shop-a",
            A,
            utc("2026-03-01T10:00"),
            offset=1,
            orders=1,
            spend=1000,
            recency_days=0,
            top_categories=["c-1"],
            last_purchase_time=utc("2026-03-01T10:00"),
            age_band="30-39",
            gender="F",
            region="KR-11",
            mean_rating=None,
        ),
        features_record(
            "shop-a",
            A,
            utc("2026-03-10T10:00"),
            offset=5,
            orders=2,
            spend=3500,
            recency_days=0,
            top_categories=["c-2", "c-1"],
            last_purchase_time=utc("2026-03-10T10:00"),
            age_band="30-39",
            gender="F",
            region="KR-11",
            reviews=1,
            rating_sum=4,
            mean_rating=4.0,
        ),
        # The same as_of, produced later: this version wins the tie (created_timestamp).
        features_record(
            "shop-a",
            A,
            utc("2026-03-10T10:00"),
            created=utc("2026-03-10T11:00"),
            offset=6,
            orders=2,
            spend=3000,
            recency_days=0,
            top_categories=["c-2", "c-1"],
            age_band="30-39",
            gender="F",
            region="KR-11",
            reviews=1,
            rating_sum=4,
            mean_rating=4.0,
        ),
        features_record(
            "shop-a", B, utc("2026-03-05T08:30"), offset=3, visits_total=4, conversion=0.5
        ),
        features_record("shop-b", A, utc("2026-03-02T00:00"), offset=1, orders=9, spend=90_000),
    ]


# (shop, buyer, timestamp): before the first version, on one, between two, after the last.
ENTITY_ROWS = [
    ("shop-a", A, utc("2026-02-20T00:00")),  # before A's first version: no value
    ("shop-a", A, utc("2026-03-01T10:00")),  # exactly the first version
    ("shop-a", A, utc("2026-03-05T12:00")),  # between the two versions
    ("shop-a", A, utc("2026-03-10T09:59")),  # a minute before the second
    ("shop-a", A, utc("2026-03-10T10:00")),  # the second (the later-created one)
    ("shop-a", A, utc("2026-04-01T00:00")),  # long after
    ("shop-a", B, utc("2026-03-05T08:29")),  # before B's only version: no value
    ("shop-a", B, utc("2026-03-06T00:00")),
    ("shop-b", A, utc("2026-03-06T00:00")),  # same pseudonym, other shop: other buyer
]


def normalised(value: Any) -> Any:
    """Feast (pandas) and pyarrow values on one footing."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


@pytest.fixture(scope="module")
def feast_result(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[tuple[str, str, dt.datetime], dict[str, Any]]:
    from feast import FeatureStore
    from feast.repo_config import load_repo_config
    from feast.repo_operations import apply_total

    from shopstream.processors.features.feast_repo import DATA_ENV, feature_names

    tmp = tmp_path_factory.mktemp("feast")
    write_history(tmp / "data", history())
    repo = tmp / "repo"
    shutil.copytree(REPO, repo, ignore=shutil.ignore_patterns("data", "__pycache__"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(DATA_ENV, str(tmp / "data"))
        patch.chdir(repo)  # apply_total changes the working directory
        patch.syspath_prepend(str(repo))
        apply_total(
            load_repo_config(repo, repo / "feature_store.yaml"), repo, skip_source_validation=False
        )
        store = FeatureStore(repo_path=str(repo))
        entity_df = pd.DataFrame(
            {
                "shop_id": [r[0] for r in ENTITY_ROWS],
                "buyer_pseudonym": [r[1] for r in ENTITY_ROWS],
                "event_timestamp": pd.to_datetime([r[2] for r in ENTITY_ROWS], utc=True),
            }
        )
        frame = store.get_historical_features(entity_df=entity_df, features=feature_names()).to_df()
    out = {}
    for row in frame.to_dict("records"):
        key = (str(row["shop_id"]), row["buyer_pseudonym"], normalised(row["event_timestamp"]))
        out[key] = {k: normalised(v) for k, v in row.items()}
    return out


def test_historical_retrieval_returns_the_exports_values(
    feast_result: dict[tuple[str, str, dt.datetime], dict[str, Any]],
) -> None:
    table = pa.Table.from_pylist(history(), schema=HISTORY_SCHEMA)
    compared = without = 0
    for shop, buyer, moment in ENTITY_ROWS:
        exported = {
            (r["shop_id"], r["buyer_pseudonym"]): r for r in training_set(table, moment).to_pylist()
        }.get((shop, buyer))
        served = feast_result.get((shop, buyer, moment))
        if exported is None:
            # No version yet: Feast's file store leaves the row out, or gives no value.
            assert served is None or served["as_of"] is None, (shop, buyer, moment)
            without += 1
            continue
        assert served is not None, (shop, buyer, moment)
        for name, value in exported.items():
            if name in ("rfm_recency", "rfm_frequency", "rfm_monetary", "customer_grade"):
                continue  # population scores: the export's, not a stored feature
            assert served[name] == normalised(value), (shop, buyer, moment, name)
        compared += 1
    assert (compared, without) == (7, 2)


def test_the_rows_between_versions_get_the_earlier_version(
    feast_result: dict[tuple[str, str, dt.datetime], dict[str, Any]],
) -> None:
    between = feast_result[("shop-a", A, utc("2026-03-05T12:00"))]
    assert (between["orders"], between["top_categories"]) == (1, ["c-1"])
    assert feast_result[("shop-a", A, utc("2026-03-10T09:59"))]["orders"] == 1
    assert feast_result[("shop-a", A, utc("2026-03-10T10:00"))]["spend"] == 3000
    assert feast_result[("shop-b", A, utc("2026-03-06T00:00"))]["orders"] == 9
