"""Synthetic Korean e-commerce traffic for tests, demos and load: `shopstream simulate`.

``generate(SimulationConfig(...), now)`` yields :class:`SimulatedEvent` values (valid
SDK models and, on request, bad events as raw bytes), deterministic under the seed;
:func:`to_jsonl_line` records them; :class:`SimulationSummary` counts them.
"""

from shopstream.producers.simulator.base import (
    BAD_KINDS,
    BadKind,
    SimulatedEvent,
    SimulationConfig,
)
from shopstream.producers.simulator.generator import generate
from shopstream.producers.simulator.jsonl import to_jsonl_line
from shopstream.producers.simulator.summary import SimulationSummary

__all__ = [
    "BAD_KINDS",
    "BadKind",
    "SimulatedEvent",
    "SimulationConfig",
    "SimulationSummary",
    "generate",
    "to_jsonl_line",
]
