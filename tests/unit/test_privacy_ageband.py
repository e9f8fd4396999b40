"""age_band: completed years at the event date, ten-year bands, open at both ends."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopstream.processors.privacy import AGE_BANDS, age_band
from shopstream.processors.privacy.ageband import age_in_years

D = dt.date


@pytest.mark.parametrize(
    ("born", "at", "band"),
    [
        (D(2006, 5, 2), D(2026, 5, 1), "<20"),  # 19, one day before turning 20
        (D(2006, 5, 1), D(2026, 5, 1), "20-29"),  # 20 on the birthday
        (D(1997, 1, 1), D(2026, 12, 31), "20-29"),
        (D(1996, 12, 31), D(2026, 12, 31), "30-39"),
        (D(1986, 7, 15), D(2026, 7, 14), "30-39"),
        (D(1986, 7, 15), D(2026, 7, 15), "40-49"),
        (D(1976, 3, 3), D(2026, 3, 3), "50-59"),
        (D(1966, 3, 3), D(2026, 3, 3), "60-69"),
        (D(1956, 3, 4), D(2026, 3, 3), "60-69"),
        (D(1956, 3, 3), D(2026, 3, 3), "70+"),
        (D(1920, 1, 1), D(2026, 1, 1), "70+"),
        (D(2020, 1, 1), D(2026, 1, 1), "<20"),
        (D(2026, 1, 1), D(2026, 1, 1), "<20"),  # born today
    ],
)
def test_bands(born: dt.date, at: dt.date, band: str) -> None:
    assert age_band(born, at) == band


def test_leap_day_birthday_counts_from_first_march_in_common_years() -> None:
    born = D(2004, 2, 29)
    assert age_in_years(born, D(2024, 2, 28)) == 19
    assert age_in_years(born, D(2024, 2, 29)) == 20  # a leap year: the day itself
    assert age_in_years(born, D(2025, 2, 28)) == 20
    assert age_in_years(born, D(2025, 3, 1)) == 21
    assert age_band(D(2005, 2, 28), D(2025, 2, 28)) == "20-29"
    assert age_band(D(2004, 2, 29), D(2023, 2, 28)) == "<20"
    assert age_band(D(2004, 2, 29), D(2023, 3, 1)) == "<20"  # 19 now
    assert age_band(D(2004, 2, 29), D(2024, 2, 29)) == "20-29"


def test_birth_after_the_event_does_not_raise() -> None:
    assert age_in_years(D(2030, 1, 1), D(2026, 1, 1)) == -4
    assert age_band(D(2030, 1, 1), D(2026, 1, 1)) == "<20"
    assert age_band(D(9999, 12, 31), D(1, 1, 1)) == "<20"


def test_a_datetime_is_taken_for_its_date() -> None:
    at = dt.datetime(2026, 5, 1, 23, 59, tzinfo=dt.UTC)
    assert age_band(D(2006, 5, 1), at) == "20-29"


@given(st.dates(D(1900, 1, 1), D(2100, 12, 31)), st.dates(D(1900, 1, 1), D(2100, 12, 31)))
def test_band_matches_a_year_by_year_count(born: dt.date, at: dt.date) -> None:
    band = age_band(born, at)
    assert band in AGE_BANDS
    # Count birthdays passed one year at a time (29 Feb counted on 1 March in common years).
    age = -1 if at < born else 0
    year = born.year + 1
    while at >= born and year <= at.year:
        try:
            birthday = born.replace(year=year)
        except ValueError:
            birthday = D(year, 3, 1)
        if birthday <= at:
            age += 1
        year += 1
    expected = (
        "<20" if age < 20 else "70+" if age >= 70 else f"{age // 10 * 10}-{age // 10 * 10 + 9}"
    )
    assert band == expected
