"""The helpers' fast validation path agrees with the models: what it accepts the model
accepts too, as the same Avro record; what it refuses the model decides (and reports)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError, field_validator

from shopstream.producers.simulator import SimulationConfig, generate
from shopstream.producers.validators import FieldsValidator, validators
from shopstream.schemas.contract import Contract
from shopstream.schemas.examples import example_events
from shopstream.schemas.models import EVENT_CLASSES, Event, VisitEvent
from tests.unit.schema_strategies import avro_records

FAST = validators(EVENT_CLASSES.values())
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def _model_record(cls: type[Event], fields: dict[str, Any]) -> dict[str, Any] | None:
    try:
        record = cls(**fields).to_avro()
    except ValidationError:
        return None
    if "sent_time" not in fields:
        record.pop("sent_time")  # the model stamps it at once, the tracker on its sender thread
    return record


def _agree(name: str, fields: dict[str, Any]) -> bool:
    """Check the fast path against the model for ``fields``; True when the fast path accepted."""
    cls = EVENT_CLASSES[name]
    fast = FAST[cls].record(dict(fields))
    if fast is None:
        return False
    assert fast == _model_record(cls, fields), f"{name}: the fast path accepted what differs"
    return True


def test_every_event_type_has_a_fast_path() -> None:
    assert set(FAST) == set(EVENT_CLASSES.values())


def test_the_examples_give_the_models_records() -> None:
    for name, event in example_events().items():
        fields = event.model_dump(exclude={"sent_time"})
        assert _agree(name, fields)
        assert _agree(
            name, event.model_dump(exclude_defaults=True) | {"event_id": str(uuid.uuid4())}
        )


def test_simulated_traffic_good_and_bad_agrees_with_the_models() -> None:
    accepted = refused = 0
    for simulated in generate(SimulationConfig(events=3_000, seed=5, bad_fraction=0.3), NOW):
        if simulated.event is not None:
            fields = simulated.event.model_dump(exclude={"sent_time"})
            accepted += _agree(simulated.event.event_type, fields)
        elif simulated.record is not None:  # out of range, inconsistent totals, too late...
            fields = {k: v for k, v in simulated.record.items() if k != "schema_version"}
            refused += not _agree(simulated.name, fields)
    assert accepted > 1_500  # every valid event takes the fast path
    assert refused > 100


@pytest.mark.parametrize("name", sorted(EVENT_CLASSES))
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_arbitrary_records_never_pass_where_the_model_fails(name: str, data: st.DataObject) -> None:
    record = data.draw(avro_records(Contract.load().latest(name).avsc))
    record.pop("schema_version", None)
    _agree(name, record)


def test_fields_with_wrong_types_or_unknown_names_are_refused() -> None:
    visit = FAST[VisitEvent]
    base = {"shop_id": "shop-1", "anonymous_id": "a-1", "session_id": "s-1"}
    assert visit.record(dict(base)) is not None
    assert visit.record(base | {"dwell_ms": "soon"}) is None
    assert visit.record(base | {"colour": "red"}) is None
    assert visit.record(base | {"event_time": dt.datetime(2020, 1, 1)}) is None  # naive
    assert visit.record({"shop_id": "shop-1", "session_id": "s-1"}) is None  # rule: no subject


def test_a_model_with_checks_of_its_own_gets_no_fast_path() -> None:
    class StricterVisit(VisitEvent):
        @field_validator("dwell_ms")
        @classmethod
        def _short(cls, value: int) -> int:
            if value > 1000:
                raise ValueError("too long")
            return value

    assert FieldsValidator.of(StricterVisit) is None
