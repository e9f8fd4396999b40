"""Errors of the collector, one per way a request is refused before its events are read.

Each carries the HTTP status it is answered with and a short machine-readable code;
none carries anything from the request body.
"""

from __future__ import annotations

from shopstream.producers.errors import TrackerError


class CollectorError(TrackerError):
    """Root of the collector's errors: a request refused as a whole."""

    status = 400
    code = "bad_request"


class UnsupportedMediaTypeError(CollectorError):
    """Not ``application/json``, or a content coding other than gzip."""

    status = 415
    code = "unsupported_media_type"


class BodyTooLargeError(CollectorError):
    """The body, as received or once decompressed, exceeds ``max_body_bytes``."""

    status = 413
    code = "body_too_large"


class TooManyEventsError(CollectorError):
    """More events than ``max_events_per_batch``: split the batch."""

    status = 413
    code = "too_many_events"


class MalformedBatchError(CollectorError):
    """Not JSON, broken gzip, or JSON that is neither ``{"events": [...]}`` nor a list."""

    status = 400
    code = "malformed_batch"


__all__ = [
    "BodyTooLargeError",
    "CollectorError",
    "MalformedBatchError",
    "TooManyEventsError",
    "UnsupportedMediaTypeError",
]
