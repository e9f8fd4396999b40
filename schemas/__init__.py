"""The event contract: Avro schemas with their annotations, the codec, the SDK models."""

from shopstream.schemas.codec import Codec, DecodedEvent
from shopstream.schemas.contract import Contract, EventSchema, FieldSpec
from shopstream.schemas.errors import ContractError, DecodeError, EncodeError

__all__ = [
    "Codec",
    "Contract",
    "ContractError",
    "DecodeError",
    "DecodedEvent",
    "EncodeError",
    "EventSchema",
    "FieldSpec",
]
