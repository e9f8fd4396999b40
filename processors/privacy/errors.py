"""Errors of the pseudonymisation functions: one root, one subclass per kind of misuse.

The functions that run per event (``Pseudonymiser``, ``scrub``, ``region_code``,
``age_band``) do not raise on bad input values; these errors are for configuration.
"""

from __future__ import annotations

from shopstream.processors.errors import ProcessorError


class PrivacyError(ProcessorError):
    """Root of every error raised by :mod:`shopstream.processors.privacy`."""


class KeyMaterialError(PrivacyError, ValueError):
    """The master secret or the key id cannot be used to derive pseudonymisation keys."""


class MasterKeyTooShortError(KeyMaterialError):
    """The master secret has fewer bytes than :data:`MIN_MASTER_BYTES`."""


__all__ = ["KeyMaterialError", "MasterKeyTooShortError", "PrivacyError"]
