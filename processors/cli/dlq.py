"""`shopstream dlq inspect | replay | keygen`: read and replay the dead-letter topic."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Annotated, Any, NoReturn

import typer
from pydantic import SecretStr

from shopstream.deploy.kafka import KafkaLauncherError, bootstrap_servers
from shopstream.processors.deadletter import (
    DeadLetter,
    DeadLetterDecodeError,
    DeadLetterKey,
    DeadLetterKeyError,
    DeadLetterTopicError,
)
from shopstream.processors.deadletter.reader import DLQ_TOPIC, read_dead_letters
from shopstream.processors.deadletter.replay import open_for_replay, replay
from shopstream.processors.deadletter.sealing import KEY_ENV, KEY_ID_ENV, NONCE_SIZE, TAG_SIZE
from shopstream.processors.deadletter.selection import Selection
from shopstream.schemas.codec import Codec
from shopstream.schemas.errors import DecodeError

EXIT_KEY = 1
EXIT_KAFKA = 3
_SEAL = NONCE_SIZE + TAG_SIZE  # what sealing adds to a payload's length

app = typer.Typer(
    name="dlq",
    help=(
        "Inspect and replay the dead-letter topic. Each dead letter names the source message, "
        "when and why it was rejected; its original bytes are sealed with AES-256-GCM and open "
        f"only with the dead-letter key ({KEY_ENV}, kept apart from the pseudonymisation keys). "
        "Exit status: 0 ok, 1 no key or a key that does not open the payloads, 2 usage, "
        "3 Kafka unreachable, topic missing or a replay not acknowledged."
    ),
    no_args_is_help=True,
)

BootstrapServers = Annotated[
    str | None,
    typer.Option(
        help="Kafka bootstrap servers. Default: KAFKA_BOOTSTRAP_SERVERS, else the broker of `shopstream kafka up`."
    ),
]
Topic = Annotated[str, typer.Option(help="The dead-letter topic to read.")]
Rules = Annotated[
    list[str] | None,
    typer.Option(
        "--reason",
        help="Only letters with this reason rule (not_avro, truncated, unknown_schema, malformed, "
        "or a validator rule such as format, max, total_matches_items). Repeat for any of several.",
    ),
]
When = "an ISO 8601 time or date, UTC unless it names an offset (2025-03-01, 2025-03-01T12:00+09:00), or an age (90m, 12h, 7d)"
Since = Annotated[
    str | None, typer.Option(help=f"Only letters that failed at or after this: {When}.")
]
Until = Annotated[str | None, typer.Option(help=f"Only letters that failed before this: {When}.")]
Timeout = Annotated[
    float, typer.Option(min=1.0, help="Seconds to wait for the cluster on each request.")
]


def _say(message: str) -> None:
    typer.echo(message, err=True)


def _fail(message: str, code: int, exc: Exception | None = None) -> NoReturn:
    _say(f"error: {message}")
    raise typer.Exit(code) from exc


@app.command()
def inspect(
    bootstrap_servers: BootstrapServers = None,
    topic: Topic = DLQ_TOPIC,
    limit: Annotated[
        int | None,
        typer.Option(min=0, help="Show at most this many letters; the summary counts them all."),
    ] = None,
    reason: Rules = None,
    since: Since = None,
    until: Until = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="One JSON object per letter on stdout (JSON Lines); summary on stderr."
        ),
    ] = False,
    show_payload: Annotated[
        bool,
        typer.Option(
            "--show-payload",
            help=f"Decrypt and show each original key and event. Needs {KEY_ENV}. "
            "The payload holds raw personal data: show it only where you may see it.",
        ),
    ] = False,
    timeout: Timeout = 30.0,
) -> None:
    """List the dead letters from the start of the topic to its current end, with a count by reason.

    One row per letter: when it failed, its id (for `replay --ids`), the source topic,
    partition and offset, the event type and the reasons as rule(field). Reads
    read_committed with a throwaway consumer that joins no group and commits nothing.
    """
    selection = _selection(reason, None, since, until)
    key = _require_key("--show-payload") if show_payload else None
    servers = _servers(bootstrap_servers)
    codec = Codec() if show_payload else None
    counts: Counter[str] = Counter()
    matched = shown = unopened = 0
    key_ids: set[str] = set()
    if not as_json:
        typer.echo(_HEADER)
    for letter in _letters(servers, topic, timeout):
        if not selection.matches(letter):
            continue
        matched += 1
        counts.update(letter.rules)
        key_ids.add(letter.encryption_key_id)
        if limit is not None and shown >= limit:
            continue
        shown += 1
        payload = _payload(letter, key, codec) if key is not None and codec is not None else None
        unopened += payload is not None and "error" in payload
        if as_json:
            typer.echo(
                json.dumps(_letter_json(letter, payload), ensure_ascii=False, default=_plain)
            )
        else:
            typer.echo(_row(letter))
            for line in _payload_lines(payload):
                typer.echo(f"    {line}")
    summary = _summary(matched, shown, counts)
    if not show_payload and matched:
        summary.append(
            f"payloads are encrypted (key id {', '.join(sorted(key_ids))}); "
            f"--show-payload with {KEY_ENV} set decrypts them"
        )
    for line in summary:
        (_say if as_json else typer.echo)(line)
    if unopened:
        _fail(f"{unopened} payload(s) did not open with key id {key.key_id if key else '?'}", 1)


@app.command("replay")
def replay_command(
    to: Annotated[
        str,
        typer.Option(
            "--to", help="Topic to produce the original messages to, e.g. shop.events.raw."
        ),
    ],
    bootstrap_servers: BootstrapServers = None,
    topic: Topic = DLQ_TOPIC,
    reason: Rules = None,
    ids: Annotated[
        str | None,
        typer.Option(help="Only these dead letters: ids as `inspect` shows them, comma-separated."),
    ] = None,
    since: Since = None,
    until: Until = None,
    replay_all: Annotated[
        bool, typer.Option("--all", help="Replay every letter in the topic (no filter given).")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Decrypt and list what would be replayed; produce nothing."),
    ] = False,
    timeout: Timeout = 60.0,
) -> None:
    """Decrypt the selected dead letters and produce their original key and value bytes again.

    Needs SHOPSTREAM_DLQ_KEY. Every selected payload is opened before anything is
    produced, so a wrong key replays nothing. Messages go out in source order with an
    idempotent producer (acks=all) and the header shopstream.dlq.dead_letter_id.
    Replayed events pass through stage 1 again; replaying twice is harmless because
    stage 2 drops repeated event ids. Name what to replay (--reason, --ids,
    --since/--until) or pass --all.
    """
    id_list = [i for i in (ids or "").split(",") if i.strip()]
    if not (reason or id_list or since or until or replay_all):
        _fail("name what to replay with --reason, --ids, --since or --until, or pass --all", 2)
    selection = _selection(reason, id_list, since, until)
    key = _require_key("replay")
    servers = _servers(bootstrap_servers)
    letters = [d for d in _letters(servers, topic, timeout) if selection.matches(d)]
    missing = selection.ids - {d.dead_letter_id for d in letters}
    if missing:
        _say(
            f"warning: not selected (not in {topic}, or excluded by the other filters): {', '.join(sorted(missing))}"
        )
    if not letters:
        typer.echo("no dead letters match; nothing to replay")
        return
    try:
        messages = open_for_replay(letters, key)
    except (DeadLetterKeyError, DeadLetterDecodeError) as exc:
        _fail(f"{exc}; nothing was replayed", EXIT_KEY, exc)
    if dry_run:
        typer.echo(_HEADER)
        for letter in sorted(
            letters, key=lambda d: (d.source_topic, d.source_partition, d.source_offset)
        ):
            typer.echo(_row(letter))
        typer.echo(f"dry run: would replay {len(messages)} dead letter(s) to {to}")
        return
    _say(f"replaying {len(messages)} dead letter(s) to {to} ...")
    try:
        count = replay(
            servers, to, messages, timeout=timeout, progress=_progress(f"to {to}", "sent")
        )
    except DeadLetterTopicError as exc:
        _fail(str(exc), EXIT_KAFKA, exc)
    typer.echo(f"replayed {count} dead letter(s) to {to}")


@app.command()
def keygen() -> None:
    """Print a new random dead-letter key (base64 of 32 bytes) for SHOPSTREAM_DLQ_KEY.

    Keep it in a secret store, apart from the pseudonymisation keys: it opens the raw
    messages. Its id (printed on stderr) is recorded in each dead letter; set
    SHOPSTREAM_DLQ_KEY_ID to name it otherwise.
    """
    secret = DeadLetterKey.generate()
    typer.echo(secret)
    _say(f"key id: {DeadLetterKey(SecretStr(secret)).key_id}")


# -- helpers -------------------------------------------------------------------------------


def _servers(option: str | None) -> str:
    if option:
        return option
    try:
        return bootstrap_servers()
    except KafkaLauncherError as exc:
        _fail(str(exc), EXIT_KAFKA, exc)


def _require_key(purpose: str) -> DeadLetterKey:
    try:
        key = DeadLetterKey.from_env()
    except DeadLetterKeyError as exc:
        _fail(str(exc), EXIT_KEY, exc)
    if key is None:
        _fail(
            f"{purpose} needs the dead-letter key: the payloads are encrypted. Set {KEY_ENV} "
            f"(and {KEY_ID_ENV} if the key has a chosen id).",
            EXIT_KEY,
        )
    return key


def _letters(servers: str, topic: str, timeout: float) -> Iterator[DeadLetter]:
    try:
        for message in read_dead_letters(
            servers, topic, timeout=timeout, progress=_progress(f"from {topic}", "read")
        ):
            if message.letter is None:
                _say(f"warning: {topic}[{message.partition}]@{message.offset}: {message.error}")
                continue
            yield message.letter
    except DeadLetterTopicError as exc:
        _fail(str(exc), EXIT_KAFKA, exc)


def _progress(where: str, verb: str) -> Callable[[int, int], None]:
    """Report progress on stderr every few seconds, once the work takes that long."""
    started = time.monotonic()
    last = started

    def report(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= 2.0:
            last = now
            _say(f"{verb} {done:,} of ~{total:,} messages {where} ({now - started:.0f} s)")

    return report


def _selection(
    rules: list[str] | None, ids: list[str] | None, since: str | None, until: str | None
) -> Selection:
    return Selection(
        rules=frozenset(rules or ()),
        ids=frozenset(ids or ()),
        since_ms=_when(since, "--since"),
        until_ms=_when(until, "--until"),
    )


_AGE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _when(text: str | None, option: str) -> int | None:
    """Milliseconds since the epoch for an ISO 8601 time (UTC unless it says) or an age."""
    if text is None:
        return None
    age = _AGE.match(text.strip())
    if age:
        return time.time_ns() // 1_000_000 - int(age.group(1)) * _UNIT[age.group(2)] * 1000
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not {When}", param_hint=option) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


_HEADER = f"{'FAILED (UTC)':23}  {'ID':36}  {'SOURCE':34}  {'EVENT':9}  REASONS"


def _row(letter: DeadLetter) -> str:
    failed = letter.failed_at.strftime("%Y-%m-%d %H:%M:%S.%f")[:23]
    reasons = ", ".join(r.rule if r.path == "$" else f"{r.rule}({r.path})" for r in letter.reasons)
    return f"{failed:23}  {letter.dead_letter_id:36}  {letter.source:34}  {letter.event_type or '-':9}  {reasons}"


def _summary(matched: int, shown: int, counts: Counter[str]) -> list[str]:
    line = f"{matched} dead letter(s)" + (f", {shown} shown" if shown < matched else "")
    lines = [line]
    if counts:
        by_reason = ", ".join(
            f"{rule} {n}" for rule, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        )
        lines.append(f"by reason: {by_reason}")
    return lines


def _payload(letter: DeadLetter, key: DeadLetterKey, codec: Codec) -> dict[str, Any]:
    """The original key and value, decrypted; the value decoded as an event if it is one."""
    try:
        raw_key, raw_value = letter.open_key(key), letter.open_value(key)
    except (DeadLetterKeyError, DeadLetterDecodeError) as exc:
        return {"error": str(exc)}
    view: dict[str, Any] = {"key": _text_or_hex(raw_key)}
    try:
        event = codec.decode(raw_value)
    except DecodeError as exc:
        view.update(value_hex=raw_value.hex(), decode_error=exc.reason)
    else:
        view.update(event_type=event.name, schema_version=event.writer_version, event=event.record)
    return view


def _payload_lines(payload: dict[str, Any] | None) -> list[str]:
    if payload is None:
        return []
    if "error" in payload:
        return [f"payload: cannot open: {payload['error']}"]
    lines = [f"key:   {payload['key'] if payload['key'] is not None else '(none)'}"]
    if "event" in payload:
        event = json.dumps(payload["event"], ensure_ascii=False, default=_plain)
        lines.append(f"value: {payload['event_type']} v{payload['schema_version']} {event}")
    else:
        lines.append(f"value: not an event ({payload['decode_error']}), hex {payload['value_hex']}")
    return lines


def _letter_json(letter: DeadLetter, payload: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "dead_letter_id": letter.dead_letter_id,
        "failed_time": letter.failed_at.isoformat(timespec="milliseconds"),
        "processor": letter.processor,
        "processor_version": letter.processor_version,
        "source_topic": letter.source_topic,
        "source_partition": letter.source_partition,
        "source_offset": letter.source_offset,
        "source_timestamp": letter.source_timestamp,
        "event_type": letter.event_type,
        "event_id": letter.event_id,
        "shop_id": letter.shop_id,
        "schema_fingerprint": letter.schema_fingerprint,
        "reasons": [{"path": r.path, "rule": r.rule, "message": r.message} for r in letter.reasons],
        "encryption_key_id": letter.encryption_key_id,
        "payload": payload
        if payload is not None
        else {
            "encrypted": True,
            "key_bytes": None
            if letter.encrypted_key is None
            else len(letter.encrypted_key) - _SEAL,
            "value_bytes": len(letter.encrypted_value) - _SEAL,
        },
    }


def _text_or_hex(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return f"hex:{raw.hex()}"
    return text if text.isprintable() else f"hex:{raw.hex()}"


def _plain(value: Any) -> str:
    return str(value.isoformat() if hasattr(value, "isoformat") else value)
