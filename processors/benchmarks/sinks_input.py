"""The sink benchmark's input: real clean events and real buyer aggregates, as many as asked.

A pool of simulated traffic goes through stage 1's logic in-process (:class:`CleanStage`:
validate, pseudonymise) and stage 2's (:func:`apply_event`, :func:`buyer_features`), so
the records hold what the pipeline would write: one features version per counted event,
each buyer with several versions. Simulating and cleaning cost about 2 ms an event on a
busy 2-core machine, so the pool is at most :data:`POOL_EVENTS` events; copies of it
make up the rest, each copy with its own buyers (pseudonyms re-derived per copy) and its
own event ids, so no two rows share a key they should not.

The records are then produced **in Kafka transactions** to the bench topics, keyed as
the stages key them (``shop_id|subject``), so the sinks read ``read_committed`` across
transaction markers, as in production.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from confluent_kafka import KafkaException
from pydantic import SecretStr

from shopstream.processors.benchmarks.workload import new_producer

POOL_EVENTS = 10_000
"""Most simulated events per run; copies of their records make up the rest."""
POOL_BUYERS = 1_000
"""Simulated members of the pool (3 shops); about 7 in 10 of them show up in its events."""

Progress = Callable[[str], None]
_T = TypeVar("_T")
Message = tuple[bytes, bytes]
"""(key, value)."""


@dataclass(frozen=True)
class SinkInput:
    clean: list[Message]
    """Encoded clean events (stage 1's output)."""
    features: list[Message]
    """Encoded BuyerFeatures versions (stage 2's output)."""
    pool_events: int
    copies: int
    """How many times the pool's aggregates were used (1: no copies)."""
    buyers: int
    """Distinct (shop, buyer) among the features."""
    seconds: float

    def summary(self) -> dict[str, Any]:
        return {
            "clean_rows": len(self.clean),
            "features_rows": len(self.features),
            "buyers": self.buyers,
            "versions_per_buyer": round(len(self.features) / self.buyers, 1)
            if self.buyers
            else None,
            "clean_value_bytes_mean": _mean_bytes(self.clean),
            "features_value_bytes_mean": _mean_bytes(self.features),
            "pool_events": self.pool_events,
            "copies": self.copies,
            "build_seconds": round(self.seconds, 1),
        }


def build(
    rows: int,
    *,
    seed: int = 7,
    days: int = 30,
    pool_events: int | None = None,
    progress: Progress | None = None,
) -> SinkInput:
    """``rows`` clean events and ``rows`` features versions (module doc); the pool is
    ``pool_events`` simulated events (default: enough, up to :data:`POOL_EVENTS`) whose
    event times span ``days`` up to now."""
    from shopstream.processors.aggregate import (
        AggregateSettings,
        Applied,
        apply_event,
        buyer_features,
        buyer_key,
    )
    from shopstream.processors.engine.aggregate_app import features_codec
    from shopstream.schemas.codec import Codec
    from shopstream.schemas.pseudonymised import load_clean_contract

    say = progress or (lambda _m: None)
    started = time.monotonic()
    clean_codec, feature_codec = Codec(load_clean_contract()), features_codec()
    (features_name,) = feature_codec.contract.names
    pool_events = pool_events or min(POOL_EVENTS, 2 * rows + 100)
    say(f"simulating {pool_events:,} events through stage 1 and stage 2's logic...")
    settings = AggregateSettings()
    states: dict[tuple[str, str], Any] = {}
    pool_clean: list[tuple[str, dict[str, Any]]] = []
    pool_features: list[dict[str, Any]] = []
    for name, record in _clean_events(pool_events, seed, days, clean_codec, say):
        pool_clean.append((name, record))
        key = buyer_key(record, name)
        if key is None:
            continue
        state, applied = apply_event(states.get(key), name, record, settings)
        if applied is Applied.COUNTED and state is not None:
            states[key] = state
            pool_features.append(buyer_features(state, settings))
    if not pool_features:
        raise ValueError("the simulated pool holds no buyer event")
    rng = random.Random(seed)  # noqa: S311 - reproducible event ids, not secrets
    say(f"encoding {rows:,} clean events and {rows:,} features versions...")
    clean = [
        _clean_message(clean_codec, name, _renamed_event(record, copy, rng))
        for copy, (name, record) in _cycle(pool_clean, rows)
    ]
    features: list[Message] = []
    buyers: set[tuple[str, str]] = set()
    copies = 0
    for copy, record in _cycle(pool_features, rows):
        version = {**record, "buyer_pseudonym": _pseudonym(record["buyer_pseudonym"], copy)}
        subject = f"{version['shop_id']}|{version['buyer_pseudonym']}"
        buyers.add((version["shop_id"], version["buyer_pseudonym"]))
        features.append((subject.encode(), feature_codec.encode(features_name, version)))
        copies = copy + 1
    return SinkInput(clean, features, pool_events, copies, len(buyers), time.monotonic() - started)


def _clean_events(
    events: int, seed: int, days: int, codec: Any, say: Progress
) -> list[tuple[str, dict[str, Any]]]:
    """Simulated valid traffic through :class:`CleanStage`, decoded as stage 2 reads it."""
    from shopstream.processors.clean.stage import Cleaned, CleanStage, Source
    from shopstream.processors.clean.transform import CleanTransform
    from shopstream.processors.deadletter import DeadLetterKey
    from shopstream.processors.privacy import Pseudonymiser, PseudonymKeys
    from shopstream.producers.simulator import SimulationConfig, generate
    from shopstream.schemas.codec import Codec

    raw_codec = Codec()
    keys = PseudonymKeys(SecretStr(PseudonymKeys.generate()), key_id="bench")
    stage = CleanStage(
        CleanTransform(Pseudonymiser(keys)), DeadLetterKey(SecretStr(DeadLetterKey.generate()))
    )
    config = SimulationConfig(shops=3, buyers=POOL_BUYERS, events=events, seed=seed, days=days)
    out: list[tuple[str, dict[str, Any]]] = []
    for n, simulated in enumerate(generate(config, dt.datetime.now(dt.UTC))):
        if simulated.event is None or simulated.name is None:
            continue
        value = raw_codec.encode(simulated.name, simulated.event.to_avro())
        outcome = stage.process(value, Source("bench.raw", 0, n))
        if isinstance(outcome, Cleaned):
            decoded = codec.decode(outcome.value)
            out.append((decoded.name, decoded.record))
        if (n + 1) % 2_000 == 0:
            say(f"simulated {n + 1:,} of {events:,} events")
    return out


def _cycle(pool: list[_T], count: int) -> list[tuple[int, _T]]:
    """``count`` items of ``pool`` in order, again and again: (copy number, item)."""
    return [(n // len(pool), pool[n % len(pool)]) for n in range(count)]


def _pseudonym(value: str, copy: int) -> str:
    """The pool's pseudonym as is in copy 0; a different one, of the same form, in each copy."""
    if copy == 0:
        return value
    return hashlib.sha256(f"{copy}:{value}".encode()).hexdigest()[: len(value)]


_SUBJECTS = ("buyer_pseudonym", "anonymous_pseudonym", "session_pseudonym")


def _renamed_event(record: Mapping[str, Any], copy: int, rng: random.Random) -> dict[str, Any]:
    if copy == 0:
        return dict(record)
    out = dict(record)
    out["event_id"] = uuid.UUID(int=rng.getrandbits(128), version=4)
    for field in _SUBJECTS:
        if out.get(field):
            out[field] = _pseudonym(out[field], copy)
    return out


def _clean_message(codec: Any, name: str, record: Mapping[str, Any]) -> Message:
    """Keyed as stage 1 keys: ``shop_id|buyer`` or ``|anonymous`` or ``|product:<id>``."""
    subject = (
        record.get("buyer_pseudonym")
        or record.get("anonymous_pseudonym")
        or f"product:{record.get('product_id')}"
    )
    return f"{record['shop_id']}|{subject}".encode(), codec.encode(name, record)


def _mean_bytes(messages: list[Message]) -> float | None:
    if not messages:
        return None
    return round(sum(len(v) for _, v in messages) / len(messages), 1)


def produce_in_transactions(
    bootstrap_servers: str,
    topic: str,
    messages: list[Message],
    *,
    per_transaction: int,
    transactional_id: str,
    timeout: float = 120.0,
) -> None:
    """Produce ``messages`` in transactions of ``per_transaction``, each committed."""
    producer = new_producer(bootstrap_servers, {"transactional.id": transactional_id})
    failures: list[str] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    producer.init_transactions(timeout)
    for start in range(0, len(messages), per_transaction):
        producer.begin_transaction()
        for key, value in messages[start : start + per_transaction]:
            while True:
                try:
                    producer.produce(topic, value, key, on_delivery=delivered)
                    break
                except BufferError:  # the local queue is full: let it drain
                    producer.poll(0.05)
            producer.poll(0)
        producer.commit_transaction(timeout)
        if failures:
            raise KafkaException(f"{len(failures)} undelivered to {topic}: {failures[:3]}")


__all__ = ["POOL_BUYERS", "POOL_EVENTS", "SinkInput", "build", "produce_in_transactions"]
