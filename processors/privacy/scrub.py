"""Free text (reviews, questions) with personal data replaced by type tokens.

PIPA forbids keeping resident registration, foreigner, card and account numbers at
all, and phone numbers and e-mail addresses in the clear; buyers type all of them
into reviews. :func:`scrub` replaces each with a token that says what was there
(``[PHONE]``, ``[EMAIL]``, ``[RRN]``, ``[FRN]``, ``[CARD]``, ``[ACCOUNT]``), so the
text stays usable and the counts can feed data-quality metrics.

It is tuned to miss little: an order number that happens to be Luhn-valid may be
lost as ``[CARD]``; a leaked card number cannot be taken back. Text without personal
data comes back unchanged, prices (``39,000원``), dates and numbers labelled as order
or model numbers included. Known gaps: spelled-out digits ("공일공"), digits split by
letters, and e-mail addresses with a non-ASCII local part.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, NamedTuple

from shopstream.processors.privacy.detectors import DETECTORS, PiiKind, Span, view_of

TOKENS: Final[Mapping[PiiKind, str]] = MappingProxyType(
    {
        "PHONE": "[PHONE]",
        "EMAIL": "[EMAIL]",
        "RRN": "[RRN]",
        "FRN": "[FRN]",
        "CARD": "[CARD]",
        "ACCOUNT": "[ACCOUNT]",
    }
)
_NOTHING: Final[Mapping[str, int]] = MappingProxyType({})
# Every detector needs an '@' or at least seven digits; most reviews have neither.
_SEVEN_DIGITS = re.compile(r"(?:[^0-9]*[0-9]){7}")


class Scrubbed(NamedTuple):
    """The scrubbed text and how many of each kind were replaced (only kinds found)."""

    text: str
    found: Mapping[str, int]

    @property
    def changed(self) -> bool:
        return bool(self.found)


def scrub(text: str) -> Scrubbed:
    """``text`` with every phone, e-mail, RRN, FRN, card and account number replaced.

    Never raises on a ``str``; scrubbing its own output changes nothing.
    """
    view = view_of(text)
    if "@" not in view and _SEVEN_DIGITS.match(view) is None:
        return Scrubbed(text, _NOTHING)
    counts: Counter[str] = Counter()
    for detect in DETECTORS:
        if spans := detect(view):
            view, text = _replace(view, text, spans)
            counts.update(kind for _, _, kind in spans)
    return Scrubbed(text, MappingProxyType(dict(counts)) if counts else _NOTHING)


def _replace(view: str, text: str, spans: list[Span]) -> tuple[str, str]:
    """The same spans replaced in the view and in the text (their offsets agree)."""
    view_parts: list[str] = []
    text_parts: list[str] = []
    done = 0
    for start, end, kind in spans:
        token = TOKENS[kind]
        view_parts += (view[done:start], token)
        text_parts += (text[done:start], token)
        done = end
    view_parts.append(view[done:])
    text_parts.append(text[done:])
    return "".join(view_parts), "".join(text_parts)


__all__ = ["TOKENS", "Scrubbed", "scrub"]
