"""Settings of the two stages: pydantic-settings, ``SHOPSTREAM_`` environment prefix.

Secrets are :class:`~pydantic.SecretStr`: they never appear in a repr, a log line or an
error message. The pseudonymisation key and the dead-letter key are separate settings on
purpose (PIPA's "additional information" is kept apart): an operator who may read dead
letters does not thereby hold the key to the pseudonyms.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class StageSettings(BaseSettings):
    """What both stages share: where Kafka is, the topics, commits, metrics."""

    model_config = SettingsConfigDict(env_prefix="SHOPSTREAM_", extra="forbid", frozen=True)

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices(
            "SHOPSTREAM_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS", "bootstrap_servers"
        ),
        description="Kafka bootstrap servers (KAFKA_BOOTSTRAP_SERVERS is honoured too).",
    )
    raw_topic: str = Field(
        default="shop.events.raw", description="Raw events, Avro from producers."
    )
    clean_topic: str = Field(default="shop.events.clean", description="Pseudonymised events.")
    dlq_topic: str = Field(default="shop.events.dlq", description="Dead letters.")
    features_topic: str = Field(
        default="shop.buyers.features", description="Per-buyer aggregates (compacted)."
    )
    commit_interval_s: float = Field(
        default=0.2,
        gt=0,
        description="Seconds between transaction commits (stage 1 commits sooner once it has caught up with its input). Readers with read_committed see output only after a commit, so this bounds latency (each stage adds up to one interval); stage 2 emits each changed buyer at most once per commit. Longer intervals cost less per event.",
    )
    state_dir: Path = Field(
        default=Path("state"), description="Folder of the local RocksDB state (stage 2)."
    )
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Port of /metrics, /healthz, /readyz, /status on 127.0.0.1 (metrics_host); None: off; 0: any free port.",
    )
    metrics_host: str = Field(default="127.0.0.1", description="Address the HTTP port binds to.")
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        default="earliest", description="Where a new consumer group starts."
    )
    lag_interval_s: float = Field(
        default=5.0, gt=0, description="Seconds between consumer-lag measurements."
    )
    instance_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="Stable name of this instance (e.g. a StatefulSet pod name). Set, it becomes the transactional id and the static group membership, so a restarted instance fences its crashed predecessor at once instead of waiting for timeouts. Never give two running instances the same id.",
    )
    kafka_config: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="librdkafka settings every client of the stage gets (security.protocol, sasl.*, ssl.*).",
    )
    consumer_config: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Extra librdkafka consumer settings, passed as they are."
    )
    producer_config: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Extra librdkafka producer settings, passed as they are."
    )


class CleanSettings(StageSettings):
    """Stage 1: validate and pseudonymise."""

    clean_group: str = Field(default="shopstream-clean", description="Consumer group of stage 1.")
    pseudonym_key: SecretStr = Field(
        description="Master secret of the pseudonymisation keys (per-shop keys are derived from it); at least 16 bytes. `shopstream keys generate` makes one.",
    )
    pseudonym_key_id: str = Field(
        default="k1",
        pattern=r"^[A-Za-z0-9_.-]{1,32}$",
        description="Id of the pseudonymisation key, written into every clean event; change it when the key rotates.",
    )
    dlq_key: SecretStr = Field(
        description="Key that seals the original bytes in dead letters (AES-256-GCM); separate from the pseudonymisation key.",
    )
    dlq_key_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]{1,32}$",
        description="Id of the dead-letter key; default: derived from the key (dlq-<hash>), which `shopstream dlq inspect` uses to tell a wrong key from a damaged payload.",
    )
    district_allowlist: frozenset[str] = Field(
        default=frozenset(),
        description="Districts kept in region codes, as 'KR-11:영등포구' entries; everything else is generalised to the province.",
    )
    clock_skew_s: float = Field(
        default=300, ge=0, description="How far in the future an event_time may be."
    )
    horizon_days: int = Field(
        default=400, ge=1, description="How old an event_time may be (the aggregation horizon)."
    )


class AggregateStageSettings(StageSettings):
    """Stage 2: per-buyer aggregates."""

    aggregate_group: str = Field(
        default="shopstream-aggregate", description="Consumer group of stage 2."
    )
    currency: str = Field(
        default="KRW", pattern=r"^[A-Z]{3}$", description="Currency of the money features."
    )
    dedup_window_days: float = Field(
        default=7, gt=0, description="Event-time span of the per-buyer memory of event ids."
    )


def settings_table() -> str:
    """The stages' settings as a Markdown table (docs/processors.md embeds it; a test compares)."""
    rows = ["| variable | stage | default | meaning |", "|---|---|---|---|"]
    shared = StageSettings.model_fields
    for stage, cls in (
        ("both", StageSettings),
        ("clean", CleanSettings),
        ("aggregate", AggregateStageSettings),
    ):
        for name, field in cls.model_fields.items():
            if cls is not StageSettings and name in shared:
                continue
            if field.is_required():
                default = "required"
            elif field.default_factory is not None:
                default = "{}"
            elif isinstance(field.default, frozenset):
                default = "none" if not field.default else ", ".join(sorted(field.default))
            else:
                default = "none" if field.default is None else f"`{field.default}`"
            meaning = (field.description or "").replace("|", "\\|")
            rows.append(f"| `SHOPSTREAM_{name.upper()}` | {stage} | {default} | {meaning} |")
    return "\n".join(rows) + "\n"
