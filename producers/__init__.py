"""The producer SDK embedded in shop sites: ``Tracker`` and the typed events it sends."""

from shopstream.producers.config import QueueFullPolicy, TrackerConfig
from shopstream.producers.errors import EventRejectedError, SpoolFullError, TrackerError
from shopstream.producers.stats import TrackerStats
from shopstream.producers.tracker import Tracker
from shopstream.schemas.models import (
    ProductEvent,
    PurchaseEvent,
    PurchaseItem,
    ReviewEvent,
    SignupEvent,
    VisitEvent,
)

__all__ = [
    "EventRejectedError",
    "ProductEvent",
    "PurchaseEvent",
    "PurchaseItem",
    "QueueFullPolicy",
    "ReviewEvent",
    "SignupEvent",
    "SpoolFullError",
    "Tracker",
    "TrackerConfig",
    "TrackerError",
    "TrackerStats",
    "VisitEvent",
]
