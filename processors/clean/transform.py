"""Raw event record -> pseudonymised (clean) record, driven by the schemas' ``x-treatment``.

The plan for each event type is compiled once from the same annotations that derive
the clean schemas (:mod:`shopstream.schemas.pseudonymised`), so a field cannot be kept
by the schema and forgotten by the transform, or the other way round. Pure: no Kafka.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shopstream.processors.privacy import Pseudonymiser, age_band, region_code, scrub
from shopstream.schemas.codec import datetime_from_millis
from shopstream.schemas.contract import Contract
from shopstream.schemas.pseudonymised import pseudonym_name, treatment_of

Step = Callable[[str, Mapping[str, Any], dict[str, Any]], int]
"""(shop_id, raw record, clean record being built) -> number of redactions made."""


@dataclass(frozen=True, slots=True)
class CleanRecord:
    record: dict[str, Any]
    redactions: int


class CleanTransform:
    """Pseudonymises decoded records of every event type in the contract."""

    def __init__(
        self,
        pseudonymiser: Pseudonymiser,
        *,
        contract: Contract | None = None,
        district_allowlist: frozenset[tuple[str, str]] = frozenset(),
    ) -> None:
        self._pseudonymiser = pseudonymiser
        self._district_allowlist = district_allowlist
        contract = contract or Contract.load()
        self._plans: dict[str, tuple[tuple[str, ...], tuple[Step, ...]]] = {
            name: self._compile(contract.latest(name).avsc) for name in contract.names
        }
        self._free_text = {
            name: any(treatment_of(f) == "scrub" for f in contract.latest(name).avsc["fields"])
            for name in contract.names
        }

    @property
    def key_id(self) -> str:
        return self._pseudonymiser.key_id

    def apply(
        self, name: str, record: Mapping[str, Any], *, processed_time: dt.datetime | int
    ) -> CleanRecord:
        """The clean record of a valid raw ``record`` of type ``name``.

        Times may be datetimes or epoch milliseconds (a ``plain_ids_and_times`` codec's),
        ``processed_time`` in the same form as the record's; fields are kept as they come.
        """
        shop_id = record["shop_id"]
        kept, steps = self._plans[name]
        # Most fields are kept as they are: copied in one go, not a step each.
        out: dict[str, Any] = dict(zip(kept, map(record.get, kept), strict=True))
        redactions = 0
        for step in steps:
            redactions += step(shop_id, record, out)
        out["pseudonym_key_id"] = self._pseudonymiser.key_id
        out["processed_time"] = processed_time
        if self._free_text[name]:
            out["redactions"] = redactions
        return CleanRecord(out, redactions)

    def _compile(self, avsc: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[Step, ...]]:
        """The fields kept as they are, and a step for each of the others."""
        kept = tuple(f["name"] for f in avsc["fields"] if treatment_of(f) == "keep")
        steps = tuple(self._step(f) for f in avsc["fields"] if treatment_of(f) != "keep")
        return kept, steps

    def _step(self, fdef: Mapping[str, Any]) -> Step:
        name: str = fdef["name"]
        treatment = treatment_of(fdef)
        pseudonymiser = self._pseudonymiser
        if treatment == "hmac":
            target = pseudonym_name(name)

            def hmac(shop: str, raw: Mapping[str, Any], out: dict[str, Any]) -> int:
                value = raw.get(name)
                out[target] = None if value is None else pseudonymiser.identifier(shop, value)
                return 0

            return hmac
        if treatment == "hmac_contact":
            target = pseudonym_name(name)
            contact = pseudonymiser.phone if name == "phone" else pseudonymiser.email

            def hmac_contact(shop: str, raw: Mapping[str, Any], out: dict[str, Any]) -> int:
                value = raw.get(name)
                out[target] = None if value is None else contact(shop, value)
                return 0

            return hmac_contact
        if treatment == "region":
            allowlist = self._district_allowlist

            def region(shop: str, raw: Mapping[str, Any], out: dict[str, Any]) -> int:
                address = raw.get(name)
                out["region"] = (
                    None
                    if address is None
                    else region_code(
                        address["province"],
                        address.get("district"),
                        district_allowlist=allowlist,
                    )
                )
                return 0

            return region
        if treatment == "age_band":

            def band(shop: str, raw: Mapping[str, Any], out: dict[str, Any]) -> int:
                born = raw.get(name)
                at = raw["event_time"]
                if type(at) is int:  # epoch milliseconds
                    at = datetime_from_millis(at)
                out["age_band"] = None if born is None else age_band(born, at.date())
                return 0

            return band
        if treatment == "scrub":

            def scrubbed(shop: str, raw: Mapping[str, Any], out: dict[str, Any]) -> int:
                text = raw.get(name)
                if text is None:
                    out[name] = None
                    return 0
                result = scrub(text)
                out[name] = result.text
                return sum(result.found.values())

            return scrubbed

        def delete(shop: str, raw: Mapping[str, Any], out: dict[str, Any]) -> int:
            return 0

        return delete
