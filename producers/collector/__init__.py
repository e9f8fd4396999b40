"""The HTTP collector for browser front ends: JSON batches in, SDK events through a Tracker.

Needs the ``collector`` extra (Starlette, uvicorn, prometheus-client).
"""

from shopstream.producers.collector.app import create_app
from shopstream.producers.collector.errors import CollectorError
from shopstream.producers.collector.settings import CollectorSettings

__all__ = ["CollectorError", "CollectorSettings", "create_app"]
