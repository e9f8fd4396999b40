"""region_code: province names (current, former, short) to ISO 3166-2:KR; districts only
when allow-listed."""

from __future__ import annotations

import random

import pytest

from shopstream.processors.privacy import UNKNOWN_REGION, province_code, region_code
from shopstream.processors.privacy.regions import PROVINCE_CODES
from shopstream.producers.simulator.regions import PROVINCES, address

ISO_3166_2_KR = {
    "KR-11", "KR-26", "KR-27", "KR-28", "KR-29", "KR-30", "KR-31", "KR-41", "KR-42",
    "KR-43", "KR-44", "KR-45", "KR-46", "KR-47", "KR-48", "KR-49", "KR-50",
}  # fmt: skip


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("서울특별시", "KR-11"),
        ("서울", "KR-11"),
        ("부산광역시", "KR-26"),
        ("대구", "KR-27"),
        ("인천광역시", "KR-28"),
        ("광주광역시", "KR-29"),
        ("대전", "KR-30"),
        ("울산광역시", "KR-31"),
        ("경기도", "KR-41"),
        ("경기", "KR-41"),
        ("충청북도", "KR-43"),
        ("충남", "KR-44"),
        ("전라남도", "KR-46"),
        ("경북", "KR-47"),
        ("경상남도", "KR-48"),
        ("제주특별자치도", "KR-49"),
        ("제주도", "KR-49"),
        ("세종특별자치시", "KR-50"),
        ("세종", "KR-50"),
    ],
)
def test_province_names_map_to_iso_codes(name: str, code: str) -> None:
    assert region_code(name, None) == code


@pytest.mark.parametrize(
    ("names", "code"),
    [
        (("강원특별자치도", "강원도", "강원"), "KR-42"),  # renamed 2023-06-11, ISO code kept
        (("전북특별자치도", "전라북도", "전북"), "KR-45"),  # renamed 2024-01-18, ISO code kept
    ],
)
def test_old_and_new_names_of_a_renamed_province_share_one_code(
    names: tuple[str, ...], code: str
) -> None:
    assert {region_code(n, None) for n in names} == {code}


def test_every_code_is_a_current_iso_code_and_all_17_are_covered() -> None:
    assert set(PROVINCE_CODES.values()) == ISO_3166_2_KR


def test_every_province_the_simulator_emits_maps() -> None:
    for province in PROVINCES:
        assert region_code(province.name, None) in ISO_3166_2_KR, province.name
    rng = random.Random(7)
    for _ in range(500):
        a = address(rng)
        assert region_code(a.province, a.district) in ISO_3166_2_KR


@pytest.mark.parametrize("name", ["", "   ", "서울특별시청", "Tokyo", "광주시", "평양직할시"])
def test_unknown_province(name: str) -> None:
    assert region_code(name, "중구") == UNKNOWN_REGION == "KR-UNK"


def test_spaces_and_a_whole_address_line_still_code() -> None:
    assert region_code(" 서울 특별시 ", None) == "KR-11"
    assert province_code("경기 광주시 오포읍") == "KR-41"  # 광주시 of 경기도, not 광주광역시
    assert province_code("서울특별시 영등포구 여의대로 1") == "KR-11"


def test_coding_twice_changes_nothing() -> None:
    assert region_code(region_code("부산광역시", None), None) == "KR-26"


def test_district_dropped_by_default() -> None:
    assert region_code("서울특별시", "영등포구") == "KR-11"


def test_allow_listed_district_is_kept_under_any_name_of_its_province() -> None:
    allow = frozenset({("KR-11", "영등포구"), ("KR-42", "춘천시")})
    assert region_code("서울특별시", "영등포구", district_allowlist=allow) == "KR-11:영등포구"
    assert region_code("서울", " 영등포구 ", district_allowlist=allow) == "KR-11:영등포구"
    assert region_code("강원도", "춘천시", district_allowlist=allow) == "KR-42:춘천시"
    assert region_code("강원특별자치도", "춘천시", district_allowlist=allow) == "KR-42:춘천시"


def test_allow_list_is_per_province() -> None:
    # 중구 exists in several cities; allowing Seoul's says nothing about Daegu's.
    allow = frozenset({("KR-11", "중구")})
    assert region_code("대구광역시", "중구", district_allowlist=allow) == "KR-27"
    assert region_code("서울특별시", "강남구", district_allowlist=allow) == "KR-11"
    assert region_code("서울특별시", None, district_allowlist=allow) == "KR-11"


def test_unknown_province_drops_even_an_allow_listed_district() -> None:
    allow = frozenset({(UNKNOWN_REGION, "중구")})
    assert region_code("어딘가", "중구", district_allowlist=allow) == UNKNOWN_REGION
