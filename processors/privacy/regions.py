"""Addresses generalised to a region code: the province (시/도), a district only when allowed.

Codes are ISO 3166-2:KR. Two provinces were renamed recently: 강원도 became
강원특별자치도 (11 June 2023) and 전라북도 became 전북특별자치도 (18 January 2024).
ISO kept their codes: its change of 2023-11-23 only moved KR-42 into the category
"special self-governing province", and KR-45 had not been recoded when this was
written. The numbers 51 (강원) and 52 (전북) seen in Korean data are the national
legal-district (법정동) codes, not ISO codes, so they are not used here. Old and new
names of one province map to one code (KR-42, KR-45): a buyer who signed up before a
renaming lands in the same region as one after it. Should ISO recode, change the
code in one entry below.

District rule: a district (시/군/구) is dropped by default. Stage 1 sees one event at a
time and cannot know how many buyers share a district, so it cannot judge whether a
district keeps groups large enough (k-anonymity). An operator who has run the
k-anonymity report allow-lists the ``(province_code, district)`` pairs whose groups
are large enough; only those come out as ``"KR-11:영등포구"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

UNKNOWN_REGION: Final = "KR-UNK"
DISTRICT_SEPARATOR: Final = ":"

# Full official names first, then former names, then the short forms people write.
# "광주시" is left out on purpose: it is also a city in 경기도.
_NAMES_BY_CODE: Final[dict[str, tuple[str, ...]]] = {
    "KR-11": ("서울특별시", "서울시", "서울"),
    "KR-26": ("부산광역시", "부산시", "부산"),
    "KR-27": ("대구광역시", "대구시", "대구"),
    "KR-28": ("인천광역시", "인천시", "인천"),
    "KR-29": ("광주광역시", "광주"),
    "KR-30": ("대전광역시", "대전시", "대전"),
    "KR-31": ("울산광역시", "울산시", "울산"),
    "KR-41": ("경기도", "경기"),
    "KR-42": ("강원특별자치도", "강원도", "강원"),
    "KR-43": ("충청북도", "충북"),
    "KR-44": ("충청남도", "충남"),
    "KR-45": ("전북특별자치도", "전라북도", "전북"),
    "KR-46": ("전라남도", "전남"),
    "KR-47": ("경상북도", "경북"),
    "KR-48": ("경상남도", "경남"),
    "KR-49": ("제주특별자치도", "제주도", "제주"),
    "KR-50": ("세종특별자치시", "세종시", "세종"),
}

PROVINCE_CODES: Final[Mapping[str, str]] = MappingProxyType(
    {name: code for code, names in _NAMES_BY_CODE.items() for name in (code, *names)}
)
"""Every accepted province name (and each code itself, so coding twice is harmless)."""


def province_code(province: str) -> str | None:
    """The ISO 3166-2 code of a province name, or None when it is not one.

    Spaces are ignored ("서울 특별시"); when the whole text is not a name, its first
    word is tried, so a full address line in the province field still codes.
    """
    code = PROVINCE_CODES.get("".join(province.split()))
    if code is None:
        words = province.split(maxsplit=1)
        code = PROVINCE_CODES.get(words[0]) if words else None
    return code


def region_code(
    province: str,
    district: str | None,
    *,
    district_allowlist: frozenset[tuple[str, str]] = frozenset(),
) -> str:
    """The region of an address: ``"KR-11"``, ``"KR-11:영등포구"`` if allow-listed, or
    :data:`UNKNOWN_REGION` when the province is not recognised (its district is dropped)."""
    code = province_code(province)
    if code is None:
        return UNKNOWN_REGION
    if district is not None:
        name = district.strip()
        if (code, name) in district_allowlist:
            return f"{code}{DISTRICT_SEPARATOR}{name}"
    return code


__all__ = ["DISTRICT_SEPARATOR", "PROVINCE_CODES", "UNKNOWN_REGION", "province_code", "region_code"]
