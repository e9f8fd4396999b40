"""The Parquet sink as a whole: the shared runner feeding a :class:`ParquetWriter`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shopstream.processors.sinks.base import Batch, SinkRunner, SinkStats, codec_decoder
from shopstream.processors.sinks.parquet.writer import ParquetWriter
from shopstream.processors.sinks.settings import ParquetSinkSettings
from shopstream.schemas.codec import Codec
from shopstream.schemas.contract import Contract, schemas_root
from shopstream.schemas.pseudonymised import load_clean_contract

SINK = "parquet"


class ParquetSink:
    """Clean topic and features topic -> Parquet datasets under ``out``."""

    def __init__(
        self,
        settings: ParquetSinkSettings,
        out: Path,
        *,
        on_batch: Callable[[Batch], None] | None = None,
    ) -> None:
        self.settings = settings
        self.out = Path(out)
        self._on_batch = on_batch
        self._runner: SinkRunner | None = None
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Flush what is held and return from :meth:`run` (safe from a signal handler)."""
        self._stopping.set()
        if self._runner is not None:
            self._runner.stop()

    def run(self, *, until_caught_up: bool = False, idle_timeout_s: float = 5.0) -> SinkStats:
        s = self.settings
        clean = Codec(load_clean_contract())
        features = Codec(Contract.load(schemas_root() / "features"))
        writer = ParquetWriter(
            self.out,
            clean_topic=s.clean_topic,
            features_topic=s.features_topic,
            clean_contract=clean.contract,
            features_contract=features.contract,
            compact_every=s.compact_every,
            compact_max_bytes=s.compact_max_bytes,
            latest_interval_s=s.latest_interval_s,
            fsync=s.fsync,
        )
        try:
            runner = SinkRunner(
                s.bootstrap_servers,
                [s.clean_topic, s.features_topic],
                writer,
                codec_decoder({s.clean_topic: clean, s.features_topic: features}),
                group=s.group(SINK),
                batch_size=s.batch_size,
                batch_interval_s=s.batch_interval_s,
                kafka_config=s.kafka_config,
                on_batch=self._on_batch,
            )
        except BaseException:
            writer.close()
            raise
        self._runner = runner
        if self._stopping.is_set():
            runner.stop()
        return runner.run(until_caught_up=until_caught_up, idle_timeout_s=idle_timeout_s)


def run_parquet_sink(
    bootstrap: str,
    out_dir: Path | str,
    *,
    until_caught_up: bool = True,
    idle_timeout_s: float = 5.0,
    **settings: Any,
) -> SinkStats:
    """Run the Parquet sink in this process (benchmarks, notebooks); its stats at the end.

    ``settings`` are :class:`ParquetSinkSettings` fields (``clean_topic``,
    ``features_topic``, ``sink_group``, ``batch_size``, ``fsync`` ...); the environment
    supplies the rest.
    """
    config = ParquetSinkSettings(bootstrap_servers=bootstrap, **settings)
    return ParquetSink(config, Path(out_dir)).run(
        until_caught_up=until_caught_up, idle_timeout_s=idle_timeout_s
    )
