"""Korean postal addresses: the 17 province-level divisions (시/도) with some real districts.

Street names, building numbers and units are invented; postal codes fall in each
province's real range of leading digits.
"""

from __future__ import annotations

import random
from itertools import accumulate
from typing import NamedTuple


class Province(NamedTuple):
    name: str
    districts: tuple[str, ...]
    """시/군/구; empty where the province has none (세종)."""
    postal_range: tuple[int, int]
    """First two digits of the five-digit postal codes, inclusive."""
    weight: float
    """Share of the population, percent (2023, rounded)."""


PROVINCES: tuple[Province, ...] = (
    Province("서울특별시", ("강남구", "서초구", "송파구", "마포구", "영등포구", "종로구", "관악구", "노원구", "강서구", "성동구"), (1, 8), 18.2),
    Province("부산광역시", ("해운대구", "수영구", "부산진구", "동래구", "사하구", "남구"), (46, 49), 6.4),
    Province("대구광역시", ("수성구", "달서구", "중구", "북구", "동구"), (41, 43), 4.6),
    Province("인천광역시", ("연수구", "남동구", "부평구", "서구", "미추홀구"), (21, 23), 5.8),
    Province("광주광역시", ("서구", "북구", "광산구", "남구", "동구"), (61, 62), 2.8),
    Province("대전광역시", ("유성구", "서구", "중구", "대덕구", "동구"), (34, 35), 2.8),
    Province("울산광역시", ("남구", "중구", "울주군", "동구", "북구"), (44, 45), 2.1),
    Province("세종특별자치시", (), (30, 30), 0.8),
    Province("경기도", ("수원시", "성남시", "고양시", "용인시", "부천시", "화성시", "남양주시", "안양시", "평택시", "파주시"), (10, 18), 26.6),
    Province("강원특별자치도", ("춘천시", "원주시", "강릉시", "속초시", "동해시"), (24, 26), 2.9),
    Province("충청북도", ("청주시", "충주시", "제천시", "음성군"), (27, 29), 3.1),
    Province("충청남도", ("천안시", "아산시", "서산시", "공주시", "당진시"), (31, 33), 4.2),
    Province("전북특별자치도", ("전주시", "군산시", "익산시", "정읍시"), (54, 56), 3.4),
    Province("전라남도", ("목포시", "여수시", "순천시", "나주시", "광양시"), (57, 60), 3.5),
    Province("경상북도", ("포항시", "구미시", "경주시", "안동시", "경산시"), (36, 40), 5.0),
    Province("경상남도", ("창원시", "김해시", "진주시", "양산시", "거제시"), (50, 53), 6.3),
    Province("제주특별자치도", ("제주시", "서귀포시"), (63, 63), 1.3),
)  # fmt: skip
_PROVINCE_CUM = tuple(accumulate(p.weight for p in PROVINCES))

_ROADS = (
    "중앙로", "시청로", "번영로", "문화로", "대학로", "공원로", "역전로", "한빛로",
    "새마을로", "평화로", "희망로", "은행나무길", "벚꽃로", "누리로", "솔빛로", "달맞이길",
)  # fmt: skip
_APARTMENTS = (
    "푸른", "햇살", "한빛", "새솔", "늘푸른", "소망", "은하수", "무지개", "보람", "가람",
)  # fmt: skip


class Address(NamedTuple):
    province: str
    district: str | None
    line: str
    postal_code: str


def address(rng: random.Random) -> Address:
    """An invented address in a real province and district, by population share."""
    province = rng.choices(PROVINCES, cum_weights=_PROVINCE_CUM)[0]
    district = rng.choice(province.districts) if province.districts else None
    road = rng.choice(_ROADS)
    if rng.random() < 0.5:
        road = f"{road}{rng.randrange(1, 60)}번길"
    line = f"{road} {rng.randrange(1, 400)}"
    if rng.random() < 0.65:  # most Koreans live in apartment blocks
        apartment = rng.choice(_APARTMENTS)
        line += f", {apartment}아파트 {rng.randrange(101, 120)}동 {rng.randrange(1, 26)}{rng.randrange(1, 9):02d}호"
    low, high = province.postal_range
    postal = f"{rng.randrange(low, high + 1):02d}{rng.randrange(1000):03d}"
    return Address(province.name, district, line, postal)


__all__ = ["PROVINCES", "Address", "Province", "address"]
