"""Point-in-time selection over the features history: no version from after the as-of time.

Pure pyarrow (no Kafka, no files): a history table in, one row per buyer out.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from shopstream.processors.features.dataset import (
    CREATED_TIMESTAMP,
    EVENT_TIMESTAMP,
    KEY_COLUMNS,
)

TIMESTAMP_MS: Final = pa.timestamp("ms", tz="UTC")
_TIE_BREAKERS: Final = (CREATED_TIMESTAMP, "kafka_offset", "kafka_partition")


def point_in_time(history: pa.Table, as_of: dt.datetime) -> pa.Table:
    """For each (shop_id, buyer_pseudonym), its latest version valid at ``as_of``.

    A version is valid at ``as_of`` when its ``event_timestamp`` (the aggregate's as_of)
    is at or before it; versions from after ``as_of`` are never chosen, whatever their
    ``created_timestamp``. Among versions with the same ``event_timestamp`` the greatest
    ``created_timestamp`` wins, then the greatest ``kafka_offset`` (then partition); the
    tie-break columns that the table lacks are skipped. A naive ``as_of`` is taken as UTC.
    Buyers without a valid version are absent. Every column is kept; rows come sorted by
    shop and buyer.
    """
    for name in (*KEY_COLUMNS, EVENT_TIMESTAMP):
        if name not in history.column_names:
            raise ValueError(f"the history has no {name!r} column")
    history = history.set_column(
        history.schema.get_field_index(EVENT_TIMESTAMP),
        EVENT_TIMESTAMP,
        history[EVENT_TIMESTAMP].cast(TIMESTAMP_MS),
    )
    valid = history.filter(pc.less_equal(history[EVENT_TIMESTAMP], as_of_scalar(as_of)))
    if valid.num_rows == 0:
        return valid
    # Each buyer's rows, best first; nulls sort last, so a version without a created
    # timestamp or offset loses its ties.
    order = [(name, "ascending") for name in KEY_COLUMNS]
    order.append((EVENT_TIMESTAMP, "descending"))
    order += [(name, "descending") for name in _TIE_BREAKERS if name in valid.column_names]
    ranked = valid.take(pc.sort_indices(valid, sort_keys=order))
    shop, buyer = ranked[KEY_COLUMNS[0]], ranked[KEY_COLUMNS[1]]
    same_as_previous = pc.and_(
        pc.equal(shop[1:], shop[:-1]), pc.equal(buyer[1:], buyer[:-1])
    ).fill_null(False)
    first_of_buyer = pa.chunked_array([pa.array([True]), *pc.invert(same_as_previous).chunks])
    return ranked.filter(first_of_buyer)


def as_of_scalar(as_of: dt.datetime) -> pa.TimestampScalar:
    """``as_of`` as a UTC millisecond timestamp, floored (naive means UTC)."""
    moment = as_of if as_of.tzinfo else as_of.replace(tzinfo=dt.UTC)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    millis = (moment - epoch) // dt.timedelta(milliseconds=1)
    return pa.scalar(millis, type=pa.int64()).cast(TIMESTAMP_MS)


__all__ = ["TIMESTAMP_MS", "as_of_scalar", "point_in_time"]
