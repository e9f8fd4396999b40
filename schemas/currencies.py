"""ISO 4217 currencies the pipeline accepts, with the number of digits of their minor unit.

Money is always an integer count of minor units: 1,000 KRW is ``1000`` (KRW has no
minor unit), 12.34 USD is ``1234``.
"""

from __future__ import annotations

MINOR_UNIT_DIGITS: dict[str, int] = {
    "KRW": 0, "JPY": 0, "VND": 0, "CLP": 0, "ISK": 0, "TWD": 2,
    "USD": 2, "EUR": 2, "GBP": 2, "CNY": 2, "HKD": 2, "SGD": 2, "AUD": 2, "CAD": 2,
    "NZD": 2, "CHF": 2, "SEK": 2, "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2, "HUF": 2,
    "THB": 2, "MYR": 2, "PHP": 2, "IDR": 2, "INR": 2, "MXN": 2, "BRL": 2, "ZAR": 2,
    "AED": 2, "SAR": 2, "TRY": 2, "RUB": 2, "MNT": 2, "KZT": 2, "UZS": 2,
    "KWD": 3, "BHD": 3, "JOD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip

__all__ = [
    "MINOR_UNIT_DIGITS",
]
