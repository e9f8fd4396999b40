"""Dead letters: rejected messages with their reasons and their original bytes sealed.

A processor calls :func:`build_dead_letter` and :func:`encode_dead_letter`; operators
read and replay them with ``shopstream dlq inspect | replay``.
"""

import logging

from shopstream.processors.deadletter.errors import (
    DeadLetterDecodeError,
    DeadLetterError,
    DeadLetterKeyError,
    DeadLetterTopicError,
)
from shopstream.processors.deadletter.letters import (
    DeadLetter,
    Reason,
    build_dead_letter,
    decode_dead_letter,
    encode_dead_letter,
    reason_from_decode_error,
    reasons_from_violations,
)
from shopstream.processors.deadletter.sealing import DeadLetterKey

# librdkafka's messages go to this package's loggers; the application decides what to show.
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "DeadLetter",
    "DeadLetterDecodeError",
    "DeadLetterError",
    "DeadLetterKey",
    "DeadLetterKeyError",
    "DeadLetterTopicError",
    "Reason",
    "build_dead_letter",
    "decode_dead_letter",
    "encode_dead_letter",
    "reason_from_decode_error",
    "reasons_from_violations",
]
