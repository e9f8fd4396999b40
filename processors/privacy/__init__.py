"""Pseudonymisation: keyed pseudonyms, region codes, age bands and a free-text scrubber.

Pure functions for stage 1, kept free of Kafka and of the engine (SPEC.md,
"Pseudonymisation policy").
"""

from shopstream.processors.privacy.ageband import AGE_BANDS, AgeBand, age_band
from shopstream.processors.privacy.errors import (
    KeyMaterialError,
    MasterKeyTooShortError,
    PrivacyError,
)
from shopstream.processors.privacy.keys import Pseudonymiser, PseudonymKeys
from shopstream.processors.privacy.regions import UNKNOWN_REGION, province_code, region_code
from shopstream.processors.privacy.scrub import TOKENS, Scrubbed, scrub

__all__ = [
    "AGE_BANDS",
    "TOKENS",
    "UNKNOWN_REGION",
    "AgeBand",
    "KeyMaterialError",
    "MasterKeyTooShortError",
    "PrivacyError",
    "PseudonymKeys",
    "Pseudonymiser",
    "Scrubbed",
    "age_band",
    "province_code",
    "region_code",
    "scrub",
]
