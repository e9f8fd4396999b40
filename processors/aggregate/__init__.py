"""The per-buyer aggregate of stage 2, as pure functions (no Kafka, no engine).

``apply_event(state, event_type, record, settings) -> (state, applied)`` counts one clean
event into its buyer's :class:`BuyerState` (in place; see its docstring), and
``buyer_features(state, settings)`` gives the ``shopstream.features.BuyerFeatures``
record. The definitions are docs/features.md. The engine adapter keys the store by
:func:`buyer_key`, keeps ``state.to_json()`` in it, and reads it back with
:meth:`BuyerState.from_json`.
"""

from __future__ import annotations

from shopstream.processors.aggregate.errors import (
    AggregateError,
    AggregateSettingsError,
    StateFormatError,
    StateMismatchError,
)
from shopstream.processors.aggregate.features import (
    FEATURE_VERSION,
    buyer_features,
    features_schema,
)
from shopstream.processors.aggregate.settings import AggregateSettings
from shopstream.processors.aggregate.state import FORMAT_VERSION, BuyerState
from shopstream.processors.aggregate.update import (
    BUYER_EVENT_TYPES,
    Applied,
    apply_event,
    buyer_key,
)

__all__ = [
    "BUYER_EVENT_TYPES",
    "FEATURE_VERSION",
    "FORMAT_VERSION",
    "AggregateError",
    "AggregateSettings",
    "AggregateSettingsError",
    "Applied",
    "BuyerState",
    "StateFormatError",
    "StateMismatchError",
    "apply_event",
    "buyer_features",
    "buyer_key",
    "features_schema",
]
