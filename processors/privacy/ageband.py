"""Birth dates generalised to ten-year age bands at the time of the event.

A birth date is close to unique next to a region and a gender; a ten-year band is
not. The ends are coded into open bands (<20, 70+) because the few very young or very
old buyers would otherwise stand out.

Age is counted in completed years (만 나이, the legal age in Korea since June 2023): it
goes up on the birthday. Someone born on 29 February gets a year older on 1 March in
common years, as the Civil Act counts a period whose last month lacks the day.
"""

from __future__ import annotations

import datetime as dt
from typing import Final, Literal

AgeBand = Literal["<20", "20-29", "30-39", "40-49", "50-59", "60-69", "70+"]
AGE_BANDS: Final[tuple[AgeBand, ...]] = ("<20", "20-29", "30-39", "40-49", "50-59", "60-69", "70+")


def age_in_years(birth_date: dt.date, at: dt.date) -> int:
    """Completed years from ``birth_date`` to ``at``; negative if ``at`` is before birth."""
    not_yet = (at.month, at.day) < (birth_date.month, birth_date.day)
    return at.year - birth_date.year - not_yet


def age_band(birth_date: dt.date, at: dt.date) -> AgeBand:
    """The band of the age at ``at`` (the event's date). A birth date after ``at`` is the
    validator's to reject; here it falls in the lowest band rather than raising."""
    age = age_in_years(birth_date, at)
    return AGE_BANDS[min(max(age // 10 - 1, 0), len(AGE_BANDS) - 1)]


__all__ = ["AGE_BANDS", "AgeBand", "age_band", "age_in_years"]
