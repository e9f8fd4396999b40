"""Detectors of personal data in Korean free text; :mod:`.scrub` runs them in order.

Each detector is one pass of one precompiled pattern over the text and returns the
spans to replace, in order and not overlapping. Hangul is a word character to
Python's ``re``, so ``\\b`` finds no boundary in ``전화010-1234-5678입니다``; every
number is delimited by explicit digit lookarounds instead, and nothing uses ``\\w``
or ``\\d`` (which would also match non-ASCII digits and letters).

Detectors see a *view* of the text in which full-width forms (０１０－, ＠), other
dashes and invisible spaces are mapped one-to-one to ASCII, so offsets in the view
are offsets in the text.
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from itertools import accumulate
from typing import Final, Literal

import phonenumbers
from stdnum import luhn
from stdnum.kr import rrn

PiiKind = Literal["EMAIL", "RRN", "FRN", "CARD", "PHONE", "ACCOUNT"]
Span = tuple[int, int, PiiKind]
Detector = Callable[[str], list[Span]]

_VIEW: Final[dict[int, str]] = {
    **{cp: chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)},  # full-width ASCII
    **dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\u00ad"), "-"),
    **dict.fromkeys(map(ord, "\t\u00a0\u2007\u202f\u3000\u200b\u200c\u200d\u2060\ufeff"), " "),
}


def view_of(text: str) -> str:
    """``text`` with look-alike characters mapped to ASCII, character for character."""
    return text.translate(_VIEW)


# A number typed as an order, tracking or model number is not a card, an account, or
# (unless its checksum says so) a registration number.
_LABELLED = re.compile(
    r"(?:(?:주문|송장|운송장|상품|제품|시리얼|일련|쿠폰|예약|승인|관리)[ ]?(?:번호|코드)"
    r"|운송장|품번|모델(?:명|번호)?"
    r"|(?i:(?:order|tracking|invoice|serial|coupon)[ ]?(?:no|number|id|code)?|model|sku))"
    r"(?:은|는|이|:)?[ ]*[.:#]?[ ]*\Z"
)


def _labelled(view: str, start: int) -> bool:
    return _LABELLED.search(view, max(0, start - 24), start) is not None


# --- e-mail ---------------------------------------------------------------------------
# ASCII local part and domain, so "연락은abc@example.com으로" yields exactly the address.
_EMAIL = re.compile(
    r"[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}"
)


def find_emails(view: str) -> list[Span]:
    if "@" not in view:
        return []
    return [(m.start(), m.end(), "EMAIL") for m in _EMAIL.finditer(view)]


# --- resident (RRN) and foreigner (FRN) registration numbers ----------------------------
# YYMMDD, an optional dash, then G (1-4, 9, 0: residents; 5-8: foreigners) and six more
# digits, or six stars as in the masked "900101-1******", which still gives away the
# birth date and sex.
_RRN = re.compile(
    r"(?<![0-9])(?P<birth>[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01]))"
    r"(?P<sep>[ ]?-[ ]?|[ ])?(?P<g>[0-9])(?P<serial>[0-9]{6}|[*]{6})(?![0-9*])"
)
_CENTURY = {"9": 1800, "0": 1800, "1": 1900, "2": 1900, "5": 1900, "6": 1900}


def find_registration_numbers(view: str) -> list[Span]:
    """RRN and FRN, with or without the dash. A valid checksum is not required: numbers
    issued since October 2020 carry none. It settles the doubtful cases: a number typed
    as an order number is kept unless its checksum holds."""
    spans: list[Span] = []
    for m in _RRN.finditer(view):
        birth, g, serial = m["birth"], m["g"], m["serial"]
        if serial != "******" and not rrn.is_valid(birth + g + serial):
            if _labelled(view, m.start()):
                continue
            if not m["sep"] and not _is_date(birth, g):
                continue  # 13 bare digits need at least a real birth date
        spans.append((m.start(), m.end(), "FRN" if g in "5678" else "RRN"))
    return spans


def _is_date(yymmdd: str, g: str) -> bool:
    year = _CENTURY.get(g, 2000) + int(yymmdd[:2])
    try:
        dt.date(year, int(yymmdd[2:4]), int(yymmdd[4:]))
    except ValueError:
        return False
    return True


# --- payment cards ----------------------------------------------------------------------
# Runs of digits joined by spaces or dashes; cards are found as whole groups inside.
_DIGIT_CHAIN = re.compile(r"(?<![0-9])[0-9]+(?:(?:[ ]?-[ ]?|[ ]{1,2})[0-9]+)*(?![0-9])")
_GROUP = re.compile(r"[0-9]+")
# Issuer prefixes: Visa 4, Mastercard 51-55 and 2221-2720, Amex/JCB/Diners 3, Discover,
# UnionPay and Maestro 5/6, Korean domestic cards (BC and others) 9.
_CARD_PREFIX = re.compile(r"[34569]|2(?:22[1-9]|2[3-9][0-9]|[3-6][0-9]{2}|7[01][0-9]|720)")
# Lengths by how common they are: 16 first, so that a card next to another number is
# cut at its own groups rather than swallowing a neighbour's.
_CARD_LENGTH_RANK = {16: 0, 15: 1, 14: 2, 19: 3, 13: 4, 18: 5, 17: 6}


def find_cards(view: str) -> list[Span]:
    """13 to 19 digits, Luhn-valid, with a card issuer's prefix. A non-Luhn run is no card."""
    spans: list[Span] = []
    for chain in _DIGIT_CHAIN.finditer(view):
        if len(chain[0]) >= 13:
            spans.extend(_cards_in_chain(view, chain))
    return spans


def _cards_in_chain(view: str, chain: re.Match[str]) -> list[Span]:
    groups = [(g.start(), g.end()) for g in _GROUP.finditer(view, chain.start(), chain.end())]
    candidates: list[tuple[int, int, int]] = []  # rank, first group, last group
    for i in range(len(groups)):
        digits = ""
        for j in range(i, len(groups)):
            start, end = groups[j]
            if j > i and (end - start < 3 or len(digits) < 3):
                break  # card groups have three digits or more
            digits += view[start:end]
            if len(digits) > 19:
                break
            if len(digits) >= 13 and _is_card(digits):
                candidates.append((_CARD_LENGTH_RANK[len(digits)], i, j))
    taken: list[tuple[int, int]] = []
    for _, i, j in sorted(candidates):
        if all(j < a or i > b for a, b in taken) and not _labelled(view, groups[i][0]):
            taken.append((i, j))
    return sorted((groups[i][0], groups[j][1], "CARD") for i, j in taken)


def _is_card(digits: str) -> bool:
    return _CARD_PREFIX.match(digits) is not None and luhn.is_valid(digits)


# --- phone numbers ----------------------------------------------------------------------
_SEP = r"(?:[ ]{0,2}[-.)][ ]{0,2}|[ ]{1,2})?"
# Domestic 0XX, or the country code (+82, 0082, 82) with the trunk 0 dropped, kept or
# written "(0)". Then mobile 010/011/016-019, Seoul 02, area codes 031-064, VoIP 070,
# personal numbers 0502-0508; a middle block of 3-4 digits; a last block of 4.
_PHONE = re.compile(
    r"(?<![0-9])(?:(?:\+[ ]?|00[ ]?)?82[ ]?[-.]?[ ]?(?:\(0\)[ ]?|0)?|0)"
    r"(?P<area>1[016-9]|2|[3-6][1-5]|70|50[2-8])"
    rf"{_SEP}(?P<middle>[0-9]{{3,4}}){_SEP}(?P<last>[0-9]{{4}})(?![0-9])"
)


def find_phones(view: str) -> list[Span]:
    """Korean mobile and landline numbers, domestic or with +82. Mobile numbers count on
    their shape; other numbers must be valid to ``phonenumbers`` (real area code, length),
    which keeps number-like codes out. Business numbers (1588-, 080) are not personal."""
    spans: list[Span] = []
    for m in _PHONE.finditer(view):
        if not m["area"].startswith("1") and not _valid_landline(
            m["area"] + m["middle"] + m["last"]
        ):
            continue
        start = m.start()
        if start > 0 and view[start - 1] == "(" and ")" in m[0]:
            start -= 1  # "(02) 123-4567": take the opening bracket too
        spans.append((start, m.end(), "PHONE"))
    return spans


def _valid_landline(national: str) -> bool:
    try:
        number = phonenumbers.parse("0" + national, "KR")
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(number))


# --- bank accounts ----------------------------------------------------------------------
# Account numbers have no checksum or shape of their own; only the words around one tell.
_ACCOUNT = re.compile(
    r"(?<![0-9])(?:[0-9]{2,6}(?:-[0-9]{2,8}){1,4}|[0-9]{10,14})(?![0-9])(?![ ]?원)"
)
_ACCOUNT_CONTEXT = re.compile(
    r"계좌|입금|송금|이체|예금주|은행|국민|신한|우리|하나|농협|기업|카카오뱅크|카뱅|토스뱅크|케이뱅크"
    r"|우체국|새마을|신협|수협|씨티|(?<![A-Za-z])(?:KB|NH|IBK|SC|KDB)(?![A-Za-z])"
    r"|(?<![\[A-Za-z])(?i:account|acct|bank)"  # not the "[ACCOUNT]" token itself
)
# How near the bank word must be, in characters other than digits, dashes and earlier
# [ACCOUNT] tokens: replacing one account then leaves every other distance as it was,
# so that scrubbing the output again finds nothing new.
_CONTEXT_BEFORE, _CONTEXT_AFTER = 20, 12
_UNCOUNTED = re.compile(r"[0-9-]+|\[ACCOUNT\]")


def find_accounts(view: str) -> list[Span]:
    """10 to 16 digits (dashes allowed) a few characters from a bank word."""
    numbers = [m for m in _ACCOUNT.finditer(view) if 10 <= len(m[0]) - m[0].count("-") <= 16]
    if not numbers:
        return []
    words = [m.span() for m in _ACCOUNT_CONTEXT.finditer(view)]
    if not words:
        return []
    word_starts, word_ends = [s for s, _ in words], [e for _, e in words]
    counted = _counted_before(view)
    spans: list[Span] = []
    for m in numbers:
        start, end = m.span()
        i = bisect_right(word_ends, start) - 1  # the last bank word before the number
        near = i >= 0 and counted[start] - counted[word_ends[i]] <= _CONTEXT_BEFORE
        j = bisect_left(word_starts, end)  # the first one after it
        near = near or (j < len(words) and counted[word_starts[j]] - counted[end] <= _CONTEXT_AFTER)
        if near and not _labelled(view, start):
            spans.append((start, end, "ACCOUNT"))
    return spans


def _counted_before(view: str) -> list[int]:
    """For each offset, how many characters before it count towards a distance."""
    counts = bytearray(b"\x01") * len(view)
    for m in _UNCOUNTED.finditer(view):
        counts[m.start() : m.end()] = bytes(m.end() - m.start())
    return [0, *accumulate(counts)]


DETECTORS: Final[tuple[Detector, ...]] = (
    find_emails,  # first: a local part may hold digits the number detectors would split
    find_registration_numbers,  # before phones: 13 digits are not a phone and a tail
    find_cards,
    find_phones,  # before accounts: a phone near "입금" is a phone
    find_accounts,
)
"""In the order :func:`~shopstream.processors.privacy.scrub.scrub` runs them."""

__all__ = [
    "DETECTORS",
    "Detector",
    "PiiKind",
    "Span",
    "find_accounts",
    "find_cards",
    "find_emails",
    "find_phones",
    "find_registration_numbers",
    "view_of",
]
