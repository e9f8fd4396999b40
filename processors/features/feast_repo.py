"""Feast objects for the buyer features: two entities, the history's FileSource, a FeatureView.

Imports Feast, which is an extra (``shopstream[feast]``): nothing else in this package
imports this module. ``deploy/feast/`` is the feature repository that uses it.

**Keys.** Feast (0.40 to at least 0.67) refuses an entity with two join keys ("An entity
may only have a single join key"). A buyer is keyed by (shop_id, buyer_pseudonym), so the
view has **two entities**, ``shop`` (join key ``shop_id``) and ``buyer`` (join key
``buyer_pseudonym``); Feast joins a view on all its entities' keys together. An entity
data frame names both columns. (A combined key column would need a column that the
Parquet sink does not write.)

**Time.** ``timestamp_field="event_timestamp"`` (the aggregate's as_of) and
``created_timestamp_column="created_timestamp"`` (when the version was produced; Feast
breaks ties of event_timestamp with it). The ttl is 0, which Feast reads as "never
expires": a version holds until the next one, as in ``shopstream features export``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Array, Bool, Float32, Float64, Int32, Int64, String, UnixTimestamp

from shopstream.processors.features.dataset import CREATED_TIMESTAMP, EVENT_TIMESTAMP
from shopstream.processors.features.dictionary import features_contract

DATA_ENV: Final = "SHOPSTREAM_FEAST_DATA"
"""The Parquet sink's folder (its ``--out``); the FileSource reads its features/history."""
DEFAULT_DATA: Final = "../../data"
"""Relative to the feature repository (deploy/feast/): the checkout's data/ folder."""
VIEW: Final = "buyer_features"

_SCALARS: Final[Mapping[str, Any]] = {
    "string": String,
    "int": Int32,
    "long": Int64,
    "float": Float32,
    "double": Float64,
    "boolean": Bool,
}


def history_path(environ: Mapping[str, str]) -> str:
    """Where the features history is: ``$SHOPSTREAM_FEAST_DATA/features/history``."""
    return str(Path(environ.get(DATA_ENV, DEFAULT_DATA)) / "features" / "history")


def feature_fields() -> list[Field]:
    """One Feast field per field of the features schema (join keys included)."""
    schema = features_contract().latest("buyer")
    return [Field(name=spec.path, dtype=_feast_type(spec.base_type)) for spec in schema.fields]


def feature_names() -> list[str]:
    """The view's features, as ``buyer_features:<name>`` references (join keys excluded)."""
    keys = {"shop_id", "buyer_pseudonym"}
    return [f"{VIEW}:{f.name}" for f in feature_fields() if f.name not in keys]


def buyer_feature_objects(path: str) -> tuple[Entity, Entity, FileSource, FeatureView]:
    """The shop and buyer entities, the FileSource over ``path``, the feature view."""
    shop = Entity(
        name="shop",
        join_keys=["shop_id"],
        value_type=ValueType.STRING,
        description="Tenant: the shop a buyer belongs to.",
    )
    buyer = Entity(
        name="buyer",
        join_keys=["buyer_pseudonym"],
        value_type=ValueType.STRING,
        description="A buyer's pseudonym within its shop; joined together with shop_id.",
    )
    source = FileSource(
        name="buyer_features_history",
        path=path,
        timestamp_field=EVENT_TIMESTAMP,
        created_timestamp_column=CREATED_TIMESTAMP,
        description="Every version of every buyer aggregate (the Parquet sink's features/history).",
    )
    view = FeatureView(
        name=VIEW,
        entities=[shop, buyer],
        ttl=dt.timedelta(0),
        schema=feature_fields(),
        source=source,
        online=False,
        description="Per-buyer aggregates (schemas/avro/features/buyer), valid as of event_timestamp.",
    )
    return shop, buyer, source, view


def _feast_type(avro_type: Any) -> Any:
    if isinstance(avro_type, str):
        return _SCALARS[avro_type]
    if avro_type.get("logicalType") in ("timestamp-millis", "timestamp-micros"):
        return UnixTimestamp
    if avro_type.get("type") == "array":
        return Array(_feast_type(avro_type["items"]))
    return _feast_type(avro_type["type"])


__all__ = [
    "DATA_ENV",
    "DEFAULT_DATA",
    "VIEW",
    "buyer_feature_objects",
    "feature_fields",
    "feature_names",
    "history_path",
]
