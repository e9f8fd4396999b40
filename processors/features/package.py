"""The shareable data set (``shopstream features package``): what the standard calls data
fit for trading or AI competitions.

Reads the Parquet sink's dataset and writes, into a new folder::

    OUT/README.md
    OUT/data-dictionary.md             the package's fields, then the generated contract
    OUT/k-anonymity.json, .md          the report (groups and sizes; removed groups by size only)
    OUT/schemas/clean/<type>/v<N>.avsc, OUT/schemas/features/buyer/v<N>.avsc
    OUT/events/shop_id=<S>/event_date=<D>/event_type=<T>/<file>.parquet
    OUT/features/shop_id=<S>/latest.parquet

Two passes: the first reads only the quasi-identifier and key columns (features and
every event table that has them) and plans the suppression (:mod:`.kanon`); the second
rewrites file by file, so memory holds one file at a time. Timestamps become dates, the
Kafka bookkeeping columns go. The folder is built under a temporary name beside ``OUT``
and renamed at the end: ``OUT`` is complete or absent.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from shopstream.processors.features.dataset import (
    CREATED_TIMESTAMP,
    EVENT_TIMESTAMP,
    EVENT_TYPES,
    KAFKA_COLUMNS,
    ParquetDataset,
    read_files,
)
from shopstream.processors.features.dates import truncate_to_dates
from shopstream.processors.features.dictionary import features_contract, render_package_dictionary
from shopstream.processors.features.errors import DatasetError, PackageError
from shopstream.processors.features.kanon import (
    QUASI_IDENTIFIERS,
    BuyerRef,
    Combination,
    SuppressionPlan,
    apply_plan,
    memberships,
    plan_suppression,
)
from shopstream.schemas.pseudonymised import load_clean_contract

DEFAULT_K: Final = 5
_BOOKKEEPING: Final = (*KAFKA_COLUMNS, EVENT_TIMESTAMP, CREATED_TIMESTAMP)
_KEYS: Final = ("shop_id", "pseudonym_key_id", "buyer_pseudonym", "event_id")


@dataclass(frozen=True, slots=True)
class PackageSummary:
    path: Path
    buyers: int
    event_rows: int
    plan: SuppressionPlan


def build_package(
    data: Path,
    out: Path,
    *,
    k: int = DEFAULT_K,
    shop: str | None = None,
    review_text: bool = True,
) -> PackageSummary:
    """Write the shareable package of ``data`` (a Parquet sink's folder) to ``out``.

    ``out`` must not exist, or be an empty folder. ``review_text=False`` nulls the
    reviews' free text (already scrubbed of contact and card numbers, but free text
    can still describe a person).
    """
    if k < 1:
        raise PackageError(f"k must be at least 1, not {k}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise PackageError(f"{out} exists and is not an empty folder")
    dataset = ParquetDataset(data)
    latest = dataset.latest_files(shop)
    events = {t: dataset.event_files(t, shop) for t in EVENT_TYPES}
    if not latest and not any(events.values()):
        raise DatasetError("no events and no features/latest to package", data)

    plan = plan_suppression(_memberships(latest, events), k)
    staging = out.with_name(f".{out.name}.{os.getpid()}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        tables: dict[str, str] = {}
        event_rows = 0
        for event_type, files in events.items():
            for source in files:
                relative = source.relative_to(data)
                rows = _rewrite(source, staging / relative, plan, review_text=review_text)
                event_rows += rows
                if rows:
                    pattern = (
                        "events/shop_id=*/event_date=*/event_type=" + event_type + "/*.parquet"
                    )
                    tables[pattern] = f"clean {event_type}"
        buyers = 0
        for source in latest:
            relative = Path("features") / source.relative_to(data / "features" / "latest")
            buyers += _rewrite(source, staging / relative, plan, review_text=review_text)
            tables["features/shop_id=*/latest.parquet"] = "features buyer"
        _write_documents(staging, plan, tables, k=k, buyers=buyers, event_rows=event_rows)
        if out.exists():
            out.rmdir()
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return PackageSummary(out, buyers, event_rows, plan)


def _memberships(
    latest: list[Path], events: dict[str, list[Path]]
) -> list[tuple[BuyerRef, Combination]]:
    found: list[tuple[BuyerRef, Combination]] = []
    sources = [latest, *events.values()]
    for files in sources:
        if not files:
            continue
        schema = pa.unify_schemas([pq.read_schema(f) for f in files])
        if not any(q in schema.names for q in QUASI_IDENTIFIERS):
            continue
        table = read_files(files, columns=[*_KEYS, *QUASI_IDENTIFIERS])
        found += memberships(table)
    return found


def _rewrite(source: Path, target: Path, plan: SuppressionPlan, *, review_text: bool) -> int:
    try:
        table = pq.read_table(source, partitioning=None)
    except (OSError, pa.ArrowException) as exc:
        raise DatasetError(f"cannot read: {exc}", source) from exc
    table = apply_plan(table, plan)
    table = table.drop_columns([c for c in _BOOKKEEPING if c in table.column_names])
    if not review_text and "text" in table.column_names and "rating" in table.column_names:
        index = table.schema.get_field_index("text")
        table = table.set_column(
            index, pa.field("text", pa.string()), pa.nulls(table.num_rows, pa.string())
        )
    table = truncate_to_dates(table)
    if table.num_rows == 0:
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, target)
    return int(table.num_rows)


def _write_documents(
    root: Path,
    plan: SuppressionPlan,
    tables: dict[str, str],
    *,
    k: int,
    buyers: int,
    event_rows: int,
) -> None:
    root.mkdir(parents=True, exist_ok=True)
    report = plan.report()
    (root / "k-anonymity.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8"
    )
    (root / "k-anonymity.md").write_text(render_report(report), "utf-8")
    (root / "data-dictionary.md").write_text(render_package_dictionary(k=k, tables=tables), "utf-8")
    for name, contract in (("clean", load_clean_contract()), ("features", features_contract())):
        for schema_name in contract.names:
            schema = contract.latest(schema_name)
            path = root / "schemas" / name / schema_name / f"v{schema.version}.avsc"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(schema.avsc, indent=2, ensure_ascii=False) + "\n", "utf-8")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    (root / "README.md").write_text(
        f"# shopstream shareable data set\n\nMade on {today} by `shopstream features package` "
        f"with k = {k}: {buyers} buyers' latest features and {event_rows} pseudonymised "
        "events, timestamps truncated to dates. `data-dictionary.md` describes every field; "
        "`k-anonymity.md` (and `.json`) the quasi-identifier groups and what was suppressed; "
        "`schemas/` holds the Avro schemas of the tables.\n\nPseudonymised data is still "
        "personal data (PIPA, GDPR Art. 4(5)): do not try to re-identify anyone, and keep "
        "this data set apart from any key or list that could reverse the pseudonyms.\n",
        "utf-8",
    )


def render_report(report: Mapping[str, Any]) -> str:
    """The k-anonymity report (:meth:`SuppressionPlan.report`) as Markdown."""
    totals, groups, removed = report["totals"], report["groups"], report["removed_groups"]
    lines = [
        "# k-anonymity report\n",
        f"k = {report['k']}; quasi-identifiers: "
        + ", ".join(f"`{q}`" for q in QUASI_IDENTIFIERS)
        + f". Population: {report['population']}. Suppression: {report['suppression']}.\n",
        "| buyers | groups before | groups removed | buyers suppressed | buyers dropped | groups in the data set | smallest group |",
        "|---|---|---|---|---|---|---|",
        f"| {totals['buyers']} | {totals['groups_before']} | {totals['groups_removed']} | "
        f"{totals['suppressed_buyers']} | {totals['dropped_buyers']} | "
        f"{totals['groups_in_package']} | {totals['smallest_group_in_package']} |",
        "\n## Groups in the data set\n",
        "A null cell is an unknown or suppressed value.\n",
        "| shop | key id | age band | gender | region | buyers |",
        "|---|---|---|---|---|---|",
    ]
    for g in groups:
        cells = [g["shop_id"], g["pseudonym_key_id"], g["age_band"], g["gender"], g["region"]]
        text = " | ".join("null" if c is None else f"`{c}`" for c in cells)
        lines.append(f"| {text} | {g['buyers']} |")
    lines.append("\n## Groups removed (smaller than k, or emptied by suppression)\n")
    if not removed:
        lines.append("None.")
        return "\n".join(lines) + "\n"
    lines += [
        "Their values are not given: only how many groups of each size were removed.\n",
        "| shop | key id | group size | groups |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{r['shop_id']}` | `{r['pseudonym_key_id']}` | {r['buyers']} | {r['groups']} |"
        for r in removed
    ]
    return "\n".join(lines) + "\n"


__all__ = ["DEFAULT_K", "PackageSummary", "build_package", "render_report"]
