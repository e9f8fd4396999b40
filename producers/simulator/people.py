"""Synthetic Korean people: names, phone numbers, e-mail addresses, birth dates.

Everything is invented from small built-in lists, and made so as to belong to no one:
mobile numbers use a middle block starting with 0 (010-0xxx-xxxx, never assigned to a
subscriber), e-mail addresses use the reserved ``.example`` top-level domain (RFC 2606),
resident-registration-like and card-like numbers are random digits.
"""

from __future__ import annotations

import datetime as dt
import random
from itertools import accumulate

# Family names with their approximate share of the population (percent, 2015 census).
FAMILY_NAMES: tuple[tuple[str, str, float], ...] = (
    ("김", "kim", 21.5),
    ("이", "lee", 14.7),
    ("박", "park", 8.4),
    ("최", "choi", 4.7),
    ("정", "jung", 4.3),
    ("강", "kang", 2.3),
    ("조", "cho", 2.1),
    ("윤", "yoon", 2.0),
    ("장", "jang", 1.9),
    ("임", "lim", 1.7),
    ("한", "han", 1.5),
    ("오", "oh", 1.5),
    ("서", "seo", 1.5),
    ("신", "shin", 1.4),
    ("권", "kwon", 1.4),
    ("황", "hwang", 1.3),
    ("안", "ahn", 1.3),
    ("송", "song", 1.2),
    ("류", "ryu", 1.1),
    ("전", "jeon", 1.1),
    ("홍", "hong", 1.0),
    ("고", "ko", 0.9),
    ("문", "moon", 0.9),
    ("양", "yang", 0.9),
    ("손", "son", 0.9),
    ("배", "bae", 0.8),
    ("백", "baek", 0.8),
    ("허", "heo", 0.6),
    ("남", "nam", 0.5),
    ("심", "shim", 0.5),
    ("노", "noh", 0.4),
    ("하", "ha", 0.4),
)
_FAMILY_CUM = tuple(accumulate(w for _, _, w in FAMILY_NAMES))

# Given-name syllables (Hangul, romanisation), first and second position, by gender.
_MALE_FIRST = (
    ("민", "min"), ("준", "jun"), ("서", "seo"), ("도", "do"), ("현", "hyun"), ("지", "ji"),
    ("우", "woo"), ("성", "sung"), ("재", "jae"), ("태", "tae"), ("동", "dong"), ("승", "seung"),
    ("영", "young"), ("진", "jin"), ("상", "sang"), ("건", "geon"),
)  # fmt: skip
_MALE_SECOND = (
    ("준", "jun"), ("호", "ho"), ("우", "woo"), ("민", "min"), ("현", "hyun"), ("수", "su"),
    ("훈", "hoon"), ("석", "seok"), ("혁", "hyuk"), ("원", "won"), ("빈", "bin"), ("진", "jin"),
    ("철", "chul"), ("규", "gyu"), ("환", "hwan"), ("율", "yul"),
)  # fmt: skip
_FEMALE_FIRST = (
    ("서", "seo"), ("지", "ji"), ("수", "su"), ("민", "min"), ("하", "ha"), ("유", "yu"),
    ("예", "ye"), ("채", "chae"), ("은", "eun"), ("혜", "hye"), ("소", "so"), ("다", "da"),
    ("윤", "yoon"), ("나", "na"), ("미", "mi"), ("가", "ga"),
)  # fmt: skip
_FEMALE_SECOND = (
    ("연", "yeon"), ("윤", "yoon"), ("아", "a"), ("은", "eun"), ("린", "rin"), ("희", "hee"),
    ("진", "jin"), ("경", "kyung"), ("영", "young"), ("현", "hyun"), ("주", "ju"), ("빈", "bin"),
    ("원", "won"), ("서", "seo"), ("나", "na"), ("정", "jung"),
)  # fmt: skip

EMAIL_DOMAINS: tuple[str, ...] = (
    "naver.example",
    "daum.example",
    "kakao.example",
    "gmail.example",
    "nate.example",
    "example.com",
)
_EMAIL_CUM = tuple(accumulate((38, 14, 12, 24, 5, 7)))


class PersonName:
    """A name in Hangul with the romanised parts an e-mail address is made from."""

    __slots__ = ("family", "family_roman", "given", "given_roman")

    def __init__(self, family: str, family_roman: str, given: str, given_roman: str) -> None:
        self.family = family
        self.family_roman = family_roman
        self.given = given
        self.given_roman = given_roman

    @property
    def full(self) -> str:
        return self.family + self.given


def person_name(rng: random.Random, gender: str) -> PersonName:
    """A family name by population share and a two-syllable given name for ``gender``."""
    family, roman, _ = rng.choices(FAMILY_NAMES, cum_weights=_FAMILY_CUM)[0]
    if gender == "U":
        gender = rng.choice("MF")
    first, second = (
        (_MALE_FIRST, _MALE_SECOND) if gender == "M" else (_FEMALE_FIRST, _FEMALE_SECOND)
    )
    a, b = rng.choice(first), rng.choice(second)
    if a[0] == b[0]:  # 민민, 서서: pick again once
        b = rng.choice(second)
    return PersonName(family, roman, a[0] + b[0], a[1] + b[1])


def mobile_digits(rng: random.Random) -> str:
    """Ten or eleven digits of an invented mobile number, mostly 010, some old 011/016-019."""
    if rng.random() < 0.93:
        return f"0100{rng.randrange(1000):03d}{rng.randrange(10000):04d}"
    prefix = rng.choice(("011", "016", "017", "018", "019"))
    middle = f"0{rng.randrange(100):02d}" if rng.random() < 0.5 else f"0{rng.randrange(1000):03d}"
    return f"{prefix}{middle}{rng.randrange(10000):04d}"


def format_phone(rng: random.Random, digits: str) -> str:
    """The number as people type it: 010-0123-4567, 01001234567 or +82 10-0123-4567."""
    head, middle, tail = digits[:3], digits[3:-4], digits[-4:]
    style = rng.random()
    if style < 0.75:
        return f"{head}-{middle}-{tail}"
    if style < 0.85:
        return digits
    if style < 0.95:
        return f"+82 {head[1:]}-{middle}-{tail}"
    return f"+82 {head[1:]} {middle} {tail}"


def email_address(rng: random.Random, name: PersonName, birth_year: int | None) -> str:
    """A plausible address at a reserved domain, e.g. ``minjun.kim92@naver.example``."""
    domain = rng.choices(EMAIL_DOMAINS, cum_weights=_EMAIL_CUM)[0]
    style = rng.random()
    if style < 0.4:
        local = f"{name.given_roman}.{name.family_roman}"
    elif style < 0.7:
        local = f"{name.family_roman}{name.given_roman}"
    else:
        local = f"{name.given_roman[0]}{name.family_roman}"
    suffix = rng.random()
    if suffix < 0.4 and birth_year is not None:
        local += f"{birth_year % 100:02d}"
    elif suffix < 0.8:
        local += str(rng.randrange(1, 1000))
    return f"{local}@{domain}"


def birth_date(rng: random.Random, today: dt.date) -> dt.date:
    """Age 16 to 79, most buyers between 25 and 45."""
    age = int(min(79.0, max(16.0, rng.gauss(37.0, 11.0))))
    born = today.replace(year=today.year - age - 1, month=1, day=1)
    return born + dt.timedelta(days=rng.randrange(365))


def rrn_like(rng: random.Random, born: dt.date | None) -> str:
    """A resident-registration-number-like string, ``YYMMDD-GNNNNNN`` (random digits)."""
    born = born or dt.date(1990, 1, 1)
    century = 3 if born.year >= 2000 else 1
    gender = century + rng.randrange(2)
    return f"{born:%y%m%d}-{gender}{rng.randrange(1_000_000):06d}"


def card_like(rng: random.Random) -> str:
    """A 16-digit number that passes the Luhn check, grouped 4-4-4-4 or not."""
    body = [rng.choice((4, 5))] + [rng.randrange(10) for _ in range(14)]
    total = 0
    for i, digit in enumerate(reversed(body)):  # the check digit will be position 0
        doubled = digit * 2 if i % 2 == 0 else digit
        total += doubled - 9 if doubled > 9 else doubled
    digits = "".join(map(str, body)) + str((10 - total % 10) % 10)
    if rng.random() < 0.7:
        return "-".join(digits[i : i + 4] for i in range(0, 16, 4))
    return digits


__all__ = [
    "EMAIL_DOMAINS",
    "FAMILY_NAMES",
    "PersonName",
    "birth_date",
    "card_like",
    "email_address",
    "format_phone",
    "mobile_digits",
    "person_name",
    "rrn_like",
]
