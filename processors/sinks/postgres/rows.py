"""A features record as a table row: the columns, their SQL types, the conversion.

The columns are written out here, not derived from the Avro schema at run time: a schema
change must come with a migration, and a unit test fails until both agree
(tests/unit/test_sink_postgres_rows.py checks this list against the schema and against
the migrations' CREATE TABLE).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from shopstream.processors.sinks.base import SinkRecord


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    """As written in the migration (``bigint``, ``text[]``...)."""
    copy_type: str
    """The type name binary COPY is told (``int8``, ``text[]``...)."""
    nullable: bool


_COPY_TYPES = {
    "text": "text",
    "integer": "int4",
    "bigint": "int8",
    "double precision": "float8",
    "timestamptz": "timestamptz",
    "text[]": "text[]",
}


def _columns(spec: str) -> tuple[Column, ...]:
    columns = []
    for line in spec.strip().splitlines():
        name, rest = line.split(maxsplit=1)
        nullable = not rest.endswith("NOT NULL")
        sql_type = rest.removesuffix("NOT NULL").strip()
        columns.append(Column(name, sql_type, _COPY_TYPES[sql_type], nullable))
    return tuple(columns)


FEATURE_COLUMNS = _columns(
    """
shop_id text NOT NULL
buyer_pseudonym text NOT NULL
pseudonym_key_id text NOT NULL
feature_version integer NOT NULL
as_of timestamptz NOT NULL
events bigint NOT NULL
age_band text
gender text
region text
signup_channel text
signup_time timestamptz
days_since_signup integer
visits_total bigint NOT NULL
visits_7d integer NOT NULL
visits_30d integer NOT NULL
visits_90d integer NOT NULL
sessions_total bigint NOT NULL
dwell_ms_total bigint NOT NULL
mean_session_dwell_ms double precision
last_visit_time timestamptz
visits_pc bigint NOT NULL
visits_mobile bigint NOT NULL
visits_tablet bigint NOT NULL
visits_app bigint NOT NULL
visits_other_device bigint NOT NULL
currency text NOT NULL
orders bigint NOT NULL
orders_7d integer NOT NULL
orders_30d integer NOT NULL
orders_90d integer NOT NULL
gross_spend bigint NOT NULL
cancelled_amount bigint NOT NULL
refunded_amount bigint NOT NULL
spend bigint NOT NULL
average_order_value double precision
first_purchase_time timestamptz
last_purchase_time timestamptz
recency_days integer
items bigint NOT NULL
distinct_categories integer NOT NULL
top_categories text[] NOT NULL
list_amount bigint NOT NULL
discount_amount bigint NOT NULL
discount_share double precision
cancellations bigint NOT NULL
refunds bigint NOT NULL
foreign_currency_purchases bigint NOT NULL
reviews bigint NOT NULL
rating_sum bigint NOT NULL
mean_rating double precision
last_review_time timestamptz
conversion double precision
"""
)
"""One column per field of BuyerFeatures v1, in the schema's order."""

SOURCE_COLUMNS = _columns(
    """
event_timestamp timestamptz NOT NULL
created_timestamp timestamptz
kafka_partition integer NOT NULL
kafka_offset bigint NOT NULL
"""
)
"""Where and when: as_of again (Feast's timestamp field), the Kafka timestamp, the offset."""

COLUMNS = FEATURE_COLUMNS + SOURCE_COLUMNS
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
_fields = itemgetter(*(c.name for c in FEATURE_COLUMNS))


def feature_row(record: SinkRecord) -> tuple[Any, ...]:
    """The row of one features message, in :data:`COLUMNS` order."""
    features: Mapping[str, Any] = record.event.record
    # A negative timestamp is librdkafka's "not available" (pre-0.10 message format).
    created = (
        dt.datetime.fromtimestamp(record.timestamp_ms / 1000, dt.UTC)
        if record.timestamp_ms >= 0
        else None
    )
    return (
        *_fields(features),
        features["as_of"],
        created,
        record.partition,
        record.offset,
    )


__all__ = ["COLUMNS", "COLUMN_NAMES", "FEATURE_COLUMNS", "SOURCE_COLUMNS", "Column", "feature_row"]
