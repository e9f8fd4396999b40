"""The PostgreSQL side of the sink: one database transaction per batch.

Each batch is COPYed (binary) into a temporary table, then, in the same transaction:

1. appended to ``buyer_features_history`` — ``ON CONFLICT DO NOTHING`` on
   (shop_id, buyer_pseudonym, kafka_partition, kafka_offset), so a replay adds nothing;
2. upserted into ``buyer_features`` — the newest version per buyer in the batch, written
   only if it is newer than the stored one by (as_of, kafka_partition, kafka_offset): a
   replayed or late older version changes nothing;
3. recorded in ``shopstream_sink_progress`` as the partition's next offset (never moved
   backwards).

The commit makes all three visible at once; a crash before it leaves none. The runner
resumes each partition from ``shopstream_sink_progress``, so a kill -9 at any moment
neither duplicates nor loses a row.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from shopstream.processors.sinks.base import Batch
from shopstream.processors.sinks.postgres.errors import PostgresSinkError, WriteError
from shopstream.processors.sinks.postgres.rows import COLUMN_NAMES, COLUMNS, feature_row

log = logging.getLogger(__name__)

_STAGING = sql.Identifier("buyer_features_batch")
_COLS = sql.SQL(", ").join(sql.Identifier(n) for n in COLUMN_NAMES)
_KEY = ("shop_id", "buyer_pseudonym")

_CREATE_STAGING = sql.SQL(
    "CREATE TEMPORARY TABLE IF NOT EXISTS {staging} (LIKE buyer_features_history)"
    " ON COMMIT DELETE ROWS"
).format(staging=_STAGING)

_COPY = sql.SQL("COPY {staging} ({cols}) FROM STDIN (FORMAT BINARY)").format(
    staging=_STAGING, cols=_COLS
)

_APPEND_HISTORY = sql.SQL(
    "INSERT INTO buyer_features_history ({cols}) SELECT {cols} FROM {staging}"
    " ORDER BY shop_id, buyer_pseudonym, kafka_partition, kafka_offset"
    " ON CONFLICT (shop_id, buyer_pseudonym, kafka_partition, kafka_offset) DO NOTHING"
).format(cols=_COLS, staging=_STAGING)

# DISTINCT ON: one row per buyer (ON CONFLICT DO UPDATE may touch a row once per statement),
# the newest of the batch. The key order also keeps concurrent writers from deadlocking.
_UPSERT_LATEST = sql.SQL(
    "INSERT INTO buyer_features ({cols})"
    " SELECT DISTINCT ON (shop_id, buyer_pseudonym) {cols} FROM {staging}"
    " ORDER BY shop_id, buyer_pseudonym, as_of DESC, kafka_partition DESC, kafka_offset DESC"
    " ON CONFLICT (shop_id, buyer_pseudonym) DO UPDATE SET {assignments}"
    " WHERE (EXCLUDED.as_of, EXCLUDED.kafka_partition, EXCLUDED.kafka_offset)"
    " > (buyer_features.as_of, buyer_features.kafka_partition, buyer_features.kafka_offset)"
).format(
    cols=_COLS,
    staging=_STAGING,
    assignments=sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(n))
        for n in COLUMN_NAMES
        if n not in _KEY
    ),
)

# GREATEST: a writer that lost its partition (and does not know yet) must not move the
# progress back. Every writer starts from a recorded progress and writes contiguously, so
# the offsets written always form a prefix and the greatest end is a safe resume point.
_RECORD_PROGRESS = sql.SQL(
    "INSERT INTO shopstream_sink_progress (topic, partition, next_offset) VALUES (%s, %s, %s)"
    " ON CONFLICT (topic, partition) DO UPDATE"
    " SET next_offset = GREATEST(shopstream_sink_progress.next_offset, EXCLUDED.next_offset),"
    " updated_at = now()"
)

_READ_PROGRESS = sql.SQL(
    "SELECT partition, next_offset FROM shopstream_sink_progress"
    " WHERE topic = %s AND partition = ANY(%s)"
)


class PostgresFeaturesWriter:
    """A :class:`~shopstream.processors.sinks.SinkWriter` for the features topic.

    Expects the tables of the migrations (see :func:`migrate`).
    """

    def __init__(self, dsn: str, *, connect_timeout_s: int = 30) -> None:
        try:
            self._conn: psycopg.Connection[TupleRow] = psycopg.connect(
                dsn, autocommit=True, connect_timeout=connect_timeout_s
            )
            self._conn.execute(_CREATE_STAGING)
        except psycopg.Error as exc:
            raise PostgresSinkError(
                f"cannot open the features tables: {type(exc).__name__}: {exc}"
            ) from exc
        self._copy_types = [c.copy_type for c in COLUMNS]

    def resume_offsets(self, topic: str, partitions: Sequence[int]) -> Mapping[int, int]:
        try:
            rows = self._conn.execute(_READ_PROGRESS, (topic, list(partitions))).fetchall()
        except psycopg.Error as exc:
            raise PostgresSinkError(
                f"cannot read the progress of {topic}: {type(exc).__name__}: {exc}"
            ) from exc
        return {int(partition): int(offset) for partition, offset in rows}

    def write(self, batch: Batch) -> None:
        try:
            with self._conn.transaction():
                if batch.records:
                    with self._conn.cursor() as cursor:
                        with cursor.copy(_COPY) as copy:
                            copy.set_types(self._copy_types)
                            for record in batch.records:
                                copy.write_row(feature_row(record))
                        cursor.execute(_APPEND_HISTORY)
                        cursor.execute(_UPSERT_LATEST)
                self._conn.execute(
                    _RECORD_PROGRESS, (batch.topic, batch.partition, batch.last_offset + 1)
                )
        except psycopg.Error as exc:
            raise WriteError(
                f"batch {batch.topic}[{batch.partition}]@{batch.first_offset}..{batch.last_offset}"
                f" not written: {type(exc).__name__}: {exc}",
                topic=batch.topic,
                partition=batch.partition,
                first_offset=batch.first_offset,
                last_offset=batch.last_offset,
            ) from exc
        log.debug(
            "wrote %s[%d]@%d..%d: %d rows",
            batch.topic,
            batch.partition,
            batch.first_offset,
            batch.last_offset,
            len(batch.records),
        )

    def close(self) -> None:
        self._conn.close()


__all__ = ["PostgresFeaturesWriter"]
