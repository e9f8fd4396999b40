"""Timestamps truncated to dates, for released data (SPEC: "truncate to date in exports")."""

from __future__ import annotations

import pyarrow as pa


def date_type(arrow_type: pa.DataType) -> pa.DataType:
    """``arrow_type`` with every timestamp in it, nested ones included, made ``date32``."""
    if pa.types.is_timestamp(arrow_type):
        return pa.date32()
    if pa.types.is_struct(arrow_type):
        return pa.struct([_field(arrow_type.field(i)) for i in range(arrow_type.num_fields)])
    if pa.types.is_list(arrow_type):
        return pa.list_(_field(arrow_type.value_field))
    if pa.types.is_large_list(arrow_type):
        return pa.large_list(_field(arrow_type.value_field))
    if pa.types.is_map(arrow_type):
        return pa.map_(_field(arrow_type.key_field), _field(arrow_type.item_field))
    return arrow_type


def truncate_to_dates(table: pa.Table) -> pa.Table:
    """``table`` with every timestamp column (and nested field) cast to its UTC date."""
    for index, field in enumerate(table.schema):
        target = date_type(field.type)
        if target.equals(field.type):
            continue
        column = _utc(table[index]) if pa.types.is_timestamp(field.type) else table[index]
        table = table.set_column(index, field.with_type(target), column.cast(target))
    return table


def _utc(column: pa.ChunkedArray) -> pa.ChunkedArray:
    # A zoned timestamp casts to the date of its own zone; the release dates are UTC's.
    unit = column.type.unit
    if column.type.tz is None:
        return column
    return column.cast(pa.timestamp(unit, tz="UTC"))


def _field(field: pa.Field) -> pa.Field:
    return field.with_type(date_type(field.type))


__all__ = ["date_type", "truncate_to_dates"]
