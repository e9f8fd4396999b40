"""The shareable package on a constructed data set whose quasi-identifier groups are known."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from shopstream.processors.cli import app
from shopstream.processors.cli.features import DEFAULT_K as CLI_DEFAULT_K
from shopstream.processors.features import PackageError, build_package
from shopstream.processors.features.kanon import plan_suppression
from shopstream.processors.features.package import DEFAULT_K, render_report
from shopstream.schemas.pseudonymised import load_clean_contract
from tests.unit.test_features_layout import (
    features_record,
    signup_row,
    utc,
    write_events,
    write_latest,
)

QI = ("age_band", "gender", "region")
# shop-a, k = 5: known groups of 7, 5, 2 (rare), 1 (lone) buyers, and 3 without a signup.
GROUPS: dict[tuple[str | None, str | None, str | None], int] = {
    ("30-39", "F", "KR-11"): 7,
    ("20-29", "M", "KR-26"): 5,
    ("70+", "F", "KR-49"): 2,
    ("40-49", "M", "KR-11"): 1,
    (None, None, None): 3,
}
DAY = utc("2026-03-01T23:30")  # late in the UTC day: its date must stay 1 March


def buyer(n: int) -> str:
    return f"{n:064x}"


def visit_row(shop: str, who: str, when: dt.datetime, offset: int) -> dict[str, Any]:
    return {
        "event_id": f"10000000-0000-4000-8000-{offset:012d}",
        "schema_version": 1,
        "shop_id": shop,
        "event_time": when,
        "sent_time": when,
        "buyer_pseudonym": who,
        "anonymous_pseudonym": None,
        "session_pseudonym": "5" * 64,
        "pseudonym_key_id": "k1",
        "processed_time": when,
        "page_type": "home",
        "product_id": None,
        "referrer_class": "direct",
        "device": "pc",
        "dwell_ms": 1000,
        "kafka_partition": 0,
        "kafka_offset": offset,
    }


def review_row(shop: str, who: str, when: dt.datetime, offset: int) -> dict[str, Any]:
    return {
        **{
            k: v
            for k, v in visit_row(shop, who, when, offset).items()
            if k not in ("page_type", "product_id", "referrer_class", "device", "dwell_ms")
        },
        "event_id": f"20000000-0000-4000-8000-{offset:012d}",
        "product_id": "p-1",
        "order_id": None,
        "rating": 5,
        "text": "좋아요 [PHONE]",
        "has_photo": False,
        "redactions": 1,
    }


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """Features, signups, visits and a review per buyer, in the sink's layout."""
    root = tmp_path / "data"
    latest, signups, visits, reviews = [], [], [], []
    n = 0
    for combination, size in GROUPS.items():
        for _ in range(size):
            values = dict(zip(QI, combination, strict=True))
            latest.append(features_record("shop-a", buyer(n), DAY, offset=n, orders=1, **values))
            if combination != (None, None, None):
                signups.append(
                    signup_row("shop-a", buyer(n), DAY - dt.timedelta(days=1), offset=n, **values)
                )
            visits.append(visit_row("shop-a", buyer(n), DAY, offset=100 + n))
            reviews.append(review_row("shop-a", buyer(n), DAY, offset=200 + n))
            n += 1
    # shop-b: 2 buyers only, one group: fewer than k to hide among, dropped at k = 5.
    for m in range(2):
        latest.append(
            features_record(
                "shop-b",
                buyer(900 + m),
                DAY,
                offset=m,
                age_band="30-39",
                gender="F",
                region="KR-11",
            )
        )
        visits.append(visit_row("shop-b", buyer(900 + m), DAY, offset=300 + m))
    write_latest(root, latest)
    write_events(root, "signup", signups)
    write_events(root, "visit", visits)
    write_events(root, "review", reviews)
    return root


def package_rows(out: Path) -> dict[str, list[dict[str, Any]]]:
    """Every table of the package, by table kind (features, or the event type)."""
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in sorted(out.rglob("*.parquet")):
        kind = (
            "features"
            if path.parts[len(out.parts)] == "features"
            else path.parent.name.removeprefix("event_type=")
        )
        rows[kind] += pq.read_table(path, partitioning=None).to_pylist()
    return rows


def groups_in(out: Path) -> dict[tuple[Any, ...], set[str]]:
    """Independent recount: distinct buyers per (shop, key id, combination), over every row with QIs."""
    groups: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for rows in package_rows(out).values():
        for row in rows:
            if any(q in row for q in QI):
                groups[(row["shop_id"], row["pseudonym_key_id"], *(row.get(q) for q in QI))].add(
                    row["buyer_pseudonym"]
                )
    return groups


def test_the_report_has_the_known_group_sizes(dataset: Path, tmp_path: Path) -> None:
    summary = build_package(dataset, tmp_path / "pkg")
    report = json.loads((tmp_path / "pkg" / "k-anonymity.json").read_text("utf-8"))
    assert report["k"] == DEFAULT_K == CLI_DEFAULT_K == 5
    left = {
        (g["shop_id"], g["age_band"], g["gender"], g["region"]): g["buyers"]
        for g in report["groups"]
    }
    assert left == {
        ("shop-a", "30-39", "F", "KR-11"): 7,
        ("shop-a", "20-29", "M", "KR-26"): 5,
        ("shop-a", None, None, None): 6,  # 3 without a signup + 3 suppressed
    }
    assert report["removed_groups"] == [
        {"shop_id": "shop-a", "pseudonym_key_id": "k1", "buyers": 1, "groups": 1},
        {"shop_id": "shop-a", "pseudonym_key_id": "k1", "buyers": 2, "groups": 1},
        {"shop_id": "shop-b", "pseudonym_key_id": "k1", "buyers": 2, "groups": 1},
    ]
    totals = report["totals"]
    assert (totals["buyers"], totals["suppressed_buyers"], totals["dropped_buyers"]) == (20, 3, 2)
    assert summary.buyers == 18
    markdown = (tmp_path / "pkg" / "k-anonymity.md").read_text("utf-8")
    assert "| `shop-a` | `k1` | `30-39` | `F` | `KR-11` | 7 |" in markdown
    for rare in ("70+", "KR-49", "40-49"):
        assert rare not in markdown
        assert rare not in json.dumps(report)


def test_no_group_under_k_survives_anywhere_in_the_package(dataset: Path, tmp_path: Path) -> None:
    build_package(dataset, tmp_path / "pkg")
    groups = groups_in(tmp_path / "pkg")
    assert groups  # the check below is not vacuous
    assert {key: len(b) for key, b in groups.items() if len(b) < 5} == {}
    rows = package_rows(tmp_path / "pkg")
    # The rare and lone buyers (12..14) keep their rows, without their quasi-identifiers.
    for kind in ("features", "signup"):
        hidden = [
            r for r in rows[kind] if r["buyer_pseudonym"] in {buyer(12), buyer(13), buyer(14)}
        ]
        assert len(hidden) == 3
        assert all(r[q] is None for r in hidden for q in QI)
    # shop-b's two buyers are gone from every table.
    everything = json.dumps([r for rs in rows.values() for r in rs], default=str)
    assert buyer(900) not in everything
    assert buyer(901) not in everything
    assert len(rows["visit"]) == 18


def test_every_time_is_a_date_and_the_kafka_columns_are_gone(dataset: Path, tmp_path: Path) -> None:
    build_package(dataset, tmp_path / "pkg")
    files = sorted((tmp_path / "pkg").rglob("*.parquet"))
    assert files
    for path in files:
        schema = pq.read_schema(path)
        assert not any(pa.types.is_timestamp(f.type) for f in schema), path
        assert not {
            "kafka_partition",
            "kafka_offset",
            "event_timestamp",
            "created_timestamp",
        } & set(schema.names)
    rows = package_rows(tmp_path / "pkg")
    assert {r["event_time"] for r in rows["visit"]} == {dt.date(2026, 3, 1)}
    assert {r["as_of"] for r in rows["features"]} == {dt.date(2026, 3, 1)}
    assert {r["sent_time"] for r in rows["signup"]} == {dt.date(2026, 2, 28)}
    assert (tmp_path / "pkg/events/shop_id=shop-a/event_date=2026-03-01/event_type=visit").is_dir()
    assert (tmp_path / "pkg/features/shop_id=shop-a/latest.parquet").is_file()


def test_the_dictionary_covers_every_field_of_the_package(dataset: Path, tmp_path: Path) -> None:
    build_package(dataset, tmp_path / "pkg")
    text = (tmp_path / "pkg" / "data-dictionary.md").read_text("utf-8")
    for path in (tmp_path / "pkg").rglob("*.parquet"):
        for name in pq.read_schema(path).names:
            assert f"| `{name}` |" in text, name
    assert "## Event table: signup (`shopstream.clean.Signup`, v1)" in text
    assert "## Features table: buyer (`shopstream.features.BuyerFeatures`, v1)" in text
    assert "### signup (`shopstream.events.Signup`, v1)" in text  # the generated contract
    assert "| `as_of` | date (UTC date of the time) |" in text
    for schema in load_clean_contract():
        assert (
            tmp_path / "pkg" / "schemas" / "clean" / schema.name / f"v{schema.version}.avsc"
        ).is_file()
    assert (tmp_path / "pkg" / "schemas" / "features" / "buyer" / "v1.avsc").is_file()
    assert "k = 5" in (tmp_path / "pkg" / "README.md").read_text("utf-8")


def test_k_is_configurable(dataset: Path, tmp_path: Path) -> None:
    summary = build_package(dataset, tmp_path / "pkg", k=2)
    # At k = 2 only the lone buyer is suppressed, and 3 + 1 hide together; shop-b stays.
    assert len(summary.plan.suppressed) == 1
    assert summary.plan.dropped == frozenset()
    groups = groups_in(tmp_path / "pkg")
    assert min(len(b) for b in groups.values()) == 2
    assert len(groups[("shop-a", "k1", "70+", "F", "KR-49")]) == 2


def test_review_text_can_be_left_out(dataset: Path, tmp_path: Path) -> None:
    build_package(dataset, tmp_path / "kept")
    build_package(dataset, tmp_path / "dropped", review_text=False)
    assert {r["text"] for r in package_rows(tmp_path / "kept")["review"]} == {"좋아요 [PHONE]"}
    assert {r["text"] for r in package_rows(tmp_path / "dropped")["review"]} == {None}


def test_a_package_is_never_written_over_something(dataset: Path, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    with pytest.raises(PackageError, match="not an empty folder"):
        build_package(dataset, tmp_path / "taken")
    (tmp_path / "empty").mkdir()
    build_package(dataset, tmp_path / "empty")
    assert (tmp_path / "empty" / "k-anonymity.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "empty", "taken"]


def test_the_cli_writes_the_package_and_reports(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    result = CliRunner().invoke(
        app, ["features", "package", "--out", str(out), "--data", str(dataset), "--k", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "k=3" in result.output
    assert json.loads((out / "k-anonymity.json").read_text("utf-8"))["k"] == 3
    again = CliRunner().invoke(
        app, ["features", "package", "--out", str(out), "--data", str(dataset)]
    )
    assert again.exit_code == 1
    nothing = CliRunner().invoke(
        app, ["features", "package", "--out", str(tmp_path / "x"), "--data", str(tmp_path / "none")]
    )
    assert nothing.exit_code == 1
    assert "no events and no features" in nothing.output


def test_a_report_with_nothing_removed_says_so() -> None:
    members = [(("shop-a", "k1", f"b{i}"), ("30-39", "F", "KR-11")) for i in range(3)]
    text = render_report(plan_suppression(members, k=3).report())
    assert text.endswith("## Groups removed (smaller than k, or emptied by suppression)\n\nNone.\n")
    assert "| `shop-a` | `k1` | `30-39` | `F` | `KR-11` | 3 |" in text
