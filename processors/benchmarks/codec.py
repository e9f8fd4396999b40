"""`shopstream bench codec`: encode and decode µs per event, against bare fastavro on the same records."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from typing import Any

from fastavro import schemaless_reader, schemaless_writer

from shopstream.processors.benchmarks.timing import per_call_us
from shopstream.schemas.codec import HEADER_SIZE, Codec
from shopstream.schemas.examples import example_events


def run(
    *, calls: int = 20_000, rounds: int = 5, progress: Callable[[str], None] | None = None
) -> dict[str, dict[str, float]]:
    """Return ``{type: {encode_us, decode_us}, fastavro_<type>: {...}}`` for every event type."""
    codec = Codec()
    results: dict[str, dict[str, float]] = {}
    for name, event in example_events().items():
        if progress:
            progress(name)
        record = event.to_avro()
        parsed = codec.schema(name).parsed
        data = codec.encode(name, record)
        body = data[HEADER_SIZE:]
        timings = per_call_us(
            {
                "encode": functools.partial(codec.encode, name, record),
                "bare_encode": functools.partial(_bare_encode, parsed, record),
                "decode": functools.partial(codec.decode, data),
                "bare_decode": functools.partial(_bare_decode, parsed, body),
            },
            calls=calls,
            rounds=rounds,
        )
        results[name] = {"encode_us": timings["encode"], "decode_us": timings["decode"]}
        results[f"fastavro_{name}"] = {
            "encode_us": timings["bare_encode"],
            "decode_us": timings["bare_decode"],
        }
    return results


def _bare_encode(parsed: Any, record: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    schemaless_writer(buffer, parsed, record)
    return buffer.getvalue()


def _bare_decode(parsed: Any, body: bytes) -> Any:
    return schemaless_reader(io.BytesIO(body), parsed, None)


__all__ = [
    "run",
]
