"""Errors of the contract package: one root, one subclass per phase.

Decode errors carry the raw bytes so that a processor can dead-letter them.
"""

from __future__ import annotations

from typing import Any


class ContractError(Exception):
    """Root of every error raised by :mod:`shopstream.schemas`."""


class SchemaDefinitionError(ContractError):
    """A schema file is missing, unreadable or breaks a contract convention."""


class EncodeError(ContractError):
    """A record could not be encoded under its schema."""

    def __init__(self, message: str, *, schema_name: str, record: Any) -> None:
        super().__init__(message)
        self.schema_name = schema_name
        self.record = record


class DecodeError(ContractError):
    """Bytes could not be decoded; ``raw`` holds them unchanged."""

    reason = "decode_error"

    def __init__(self, message: str, *, raw: bytes) -> None:
        super().__init__(message)
        self.raw = raw


class NotAvroError(DecodeError):
    """The bytes do not start with a known framing marker."""

    reason = "not_avro"


class TruncatedError(DecodeError):
    """The bytes end before the header or the record is complete."""

    reason = "truncated"


class UnknownSchemaError(DecodeError):
    """The framing names a schema (fingerprint or registry id) this reader does not know."""

    reason = "unknown_schema"

    def __init__(self, message: str, *, raw: bytes, fingerprint: bytes) -> None:
        super().__init__(message, raw=raw)
        self.fingerprint = fingerprint


class MalformedError(DecodeError):
    """The header is valid but the body is not a valid record of the named schema."""

    reason = "malformed"


__all__ = [
    "ContractError",
    "DecodeError",
    "EncodeError",
    "MalformedError",
    "NotAvroError",
    "SchemaDefinitionError",
    "TruncatedError",
    "UnknownSchemaError",
]
