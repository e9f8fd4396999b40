"""The training-set export: point-in-time features plus RFM scores and customer grades.

``training_set(history, as_of)`` is pure; :func:`export_training_set` reads the Parquet
sink's features history and writes a ``.parquet`` or ``.csv`` file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from shopstream.processors.features.dataset import (
    CREATED_TIMESTAMP,
    EVENT_TIMESTAMP,
    KAFKA_COLUMNS,
    ParquetDataset,
    read_files,
)
from shopstream.processors.features.errors import DatasetError, ExportError
from shopstream.processors.features.pit import as_of_scalar, point_in_time
from shopstream.processors.rfm import grade, rfm_scores

RFM_COLUMNS: Final = ("rfm_recency", "rfm_frequency", "rfm_monetary", "customer_grade")
"""What the export adds to the features: scores 1-5 (0 without orders) and the grade."""
_RFM_INPUT: Final = (
    "shop_id",
    "buyer_pseudonym",
    "as_of",
    "orders",
    "recency_days",
    "spend",
    "currency",
)
_DROPPED: Final = (EVENT_TIMESTAMP, CREATED_TIMESTAMP, *KAFKA_COLUMNS)


@dataclass(frozen=True, slots=True)
class ExportSummary:
    path: Path
    buyers: int
    shops: int
    as_of: dt.datetime


def training_set(history: pa.Table, as_of: dt.datetime, *, shop: str | None = None) -> pa.Table:
    """One row per buyer: the features valid at ``as_of`` (:func:`point_in_time`) and RFM.

    The columns are the features record's (``event_timestamp``, ``created_timestamp`` and
    the Kafka bookkeeping dropped) followed by :data:`RFM_COLUMNS`, scored within each
    shop over the exported buyers, recency counted to ``as_of``'s UTC date.
    """
    if shop is not None:
        history = history.filter(ds.field("shop_id") == shop)
    latest = point_in_time(history, as_of)
    latest = latest.drop_columns([c for c in _DROPPED if c in latest.column_names])
    moment = as_of if as_of.tzinfo else as_of.replace(tzinfo=dt.UTC)
    return with_rfm(latest, reference=moment.astimezone(dt.UTC).date())


def with_rfm(features: pa.Table, *, reference: dt.date) -> pa.Table:
    """``features`` (one row per buyer) with :data:`RFM_COLUMNS` appended, in row order."""
    records = features.select(list(_RFM_INPUT)).to_pylist()
    try:
        scores = rfm_scores(records, reference=reference)
    except ValueError as exc:
        raise ExportError(f"cannot score RFM: {exc}") from exc
    ordered = [scores[(r["shop_id"], r["buyer_pseudonym"])] for r in records]
    columns = {
        "rfm_recency": pa.array([s.recency for s in ordered], pa.int8()),
        "rfm_frequency": pa.array([s.frequency for s in ordered], pa.int8()),
        "rfm_monetary": pa.array([s.monetary for s in ordered], pa.int8()),
        "customer_grade": pa.array([grade(s) for s in ordered], pa.string()),
    }
    for name, column in columns.items():
        features = features.append_column(pa.field(name, column.type, nullable=False), column)
    return features


def export_training_set(
    data: Path, as_of: dt.datetime, out: Path, *, shop: str | None = None
) -> ExportSummary:
    """Read ``data``'s features history, write :func:`training_set` to ``out``.

    ``out`` ends in ``.parquet`` or ``.csv``; it is written beside itself under a
    temporary name and renamed, so a reader never sees half a file.
    """
    writer = _writer(out)
    files = ParquetDataset(data).history_files(shop)
    if not files:
        where = f" of shop {shop!r}" if shop else ""
        raise DatasetError(f"no features history{where} (features/history/shop_id=*/)", data)
    # The filter is pushed into the scan; point_in_time applies it again, exactly.
    history = read_files(files, row_filter=ds.field(EVENT_TIMESTAMP) <= as_of_scalar(as_of))
    table = training_set(history, as_of, shop=shop)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        writer(table, partial)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    shops = len(set(table["shop_id"].to_pylist()))
    return ExportSummary(out, table.num_rows, shops, as_of)


def csv_ready(table: pa.Table) -> pa.Table:
    """``table`` with every list column as JSON array text (CSV has no lists)."""
    for index, field in enumerate(table.schema):
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            text = [
                None if v is None else json.dumps(v, ensure_ascii=False)
                for v in table[index].to_pylist()
            ]
            table = table.set_column(
                index, pa.field(field.name, pa.string()), pa.array(text, pa.string())
            )
    return table


def _writer(out: Path) -> Callable[[pa.Table, Path], None]:
    suffix = out.suffix.lower()
    if suffix == ".parquet":
        return _write_parquet
    if suffix == ".csv":
        return _write_csv
    raise ExportError(f"{out}: the output must end in .parquet or .csv")


def _write_parquet(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path)


def _write_csv(table: pa.Table, path: Path) -> None:
    pacsv.write_csv(csv_ready(table), path)


def parse_as_of(text: str) -> dt.datetime:
    """``--as-of``: a date means the end of that UTC day; a date-time is taken as it is.

    A date ``2026-11-30`` includes every version with ``event_timestamp`` on that day
    (up to 23:59:59.999 UTC); a date-time without a zone is UTC.
    """
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
            return midnight - dt.timedelta(milliseconds=1)
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ExportError(f"--as-of {text!r} is neither a date nor an ISO date-time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


__all__ = [
    "RFM_COLUMNS",
    "ExportSummary",
    "csv_ready",
    "export_training_set",
    "parse_as_of",
    "training_set",
    "with_rfm",
]
