"""`make demo`'s job on the session broker: simulator, both stages as processes, summary."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shopstream.deploy.kafka import admin_client
from shopstream.deploy.kafka.process import pid_alive
from shopstream.processors import demo
from shopstream.processors.deadletter import DeadLetterKey
from shopstream.processors.privacy import PseudonymKeys
from shopstream.processors.rfm import GRADES

SMALL = demo.DemoOptions(events=3_000, buyers=60, bad_fraction=0.03, seed=7, progress_interval_s=1)
PID = re.compile(r"stage (clean|aggregate) started \(pid (\d+)\)")


def _stage_pids(messages: str) -> dict[str, int]:
    return {stage: int(pid) for stage, pid in PID.findall(messages)}


@pytest.fixture
def demo_target(
    kafka_bootstrap: str, name_factory: Callable[[str], str]
) -> Iterator[demo.DemoTarget]:
    prefix = name_factory("demo") + "."
    yield demo.DemoTarget(kafka_bootstrap, prefix)
    demo.remove_demo_names(kafka_bootstrap, prefix, lambda _: None)


def test_the_pipeline_drains_and_the_summary_adds_up(
    demo_target: demo.DemoTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys: list[str] = []

    def remembered(generate: Callable[[], str]) -> Callable[[], str]:
        def make() -> str:
            keys.append(generate())
            return keys[-1]

        return make

    monkeypatch.setattr(PseudonymKeys, "generate", staticmethod(remembered(PseudonymKeys.generate)))
    monkeypatch.setattr(DeadLetterKey, "generate", staticmethod(remembered(DeadLetterKey.generate)))
    messages: list[str] = []
    logs = tmp_path / "logs"
    logs.mkdir()

    summary = demo.run_pipeline(
        demo_target, messages.append, log_dir=logs, state_dir=tmp_path / "state", options=SMALL
    )

    assert summary.sent == summary.events_in == 3_000
    assert summary.events_in == summary.clean + summary.dead_letters
    assert summary.adds_up
    assert summary.dead_letters == 90  # 3 % of 3,000, each bad on purpose
    assert sum(summary.dead_letters_by_rule.values()) >= summary.dead_letters
    assert {"not_avro", "truncated", "unknown_schema"} <= set(summary.dead_letters_by_rule)
    assert {"visit", "purchase", "signup"} <= set(summary.clean_by_type)
    assert summary.buyers > 0
    assert sum(summary.grade_totals.values()) == summary.buyers
    assert list(summary.grade_totals) == list(GRADES)
    assert sum(n for g, n in summary.grade_totals.items() if g != "prospect") > 0
    assert len(summary.top_buyers) == 5
    spends = [b.spend for b in summary.top_buyers]
    assert spends == sorted(spends, reverse=True)
    assert all(re.fullmatch(r"[0-9a-f]{64}", b.buyer_pseudonym) for b in summary.top_buyers)
    assert summary.exit_codes == {"clean": 0, "aggregate": 0}
    assert summary.stages_stopped_cleanly

    said = "\n".join(messages)
    pids = _stage_pids(said)
    assert set(pids) == {"clean", "aggregate"}
    assert not any(pid_alive(pid) for pid in pids.values())
    assert "drained" in said
    assert re.search(r"clean [\d,]+ \| dead letters [\d,]+ \| features [\d,]+ buyers", said)
    # Fresh keys were made, given to the stages, and never written anywhere.
    assert len(keys) == 2
    written = said + "".join(p.read_text("utf-8") for p in logs.glob("*.log"))
    assert {p.name for p in logs.glob("*.log")} == {"clean.log", "aggregate.log"}
    assert not any(key in written for key in keys)


def _run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shopstream.processors.cli", "demo", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_demo_command_prints_the_summary_and_leaves_nothing_behind(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    logs = tmp_path / "kept"
    done = _run_cli(
        "--events", "1000", "--buyers", "40", "--seed", "3", "--keep-logs", str(logs),
        env={"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap},
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "starting nothing" in done.stderr
    assert re.search(r"events in\s+1,000", out)
    counted = re.search(r"in = clean \+ dead-lettered: ([\d,]+) = ([\d,]+) \+ ([\d,]+) ✓", out)
    assert counted is not None, out
    events_in, clean, dead = (int(g.replace(",", "")) for g in counted.groups())
    assert events_in == clean + dead == 1_000
    aggregated = re.search(r"buyers aggregated\s+([\d,]+)", out)
    assert aggregated is not None
    assert int(aggregated.group(1)) > 0
    assert re.search(r"^  \S+\s+[0-9a-f]{12}\s+\d+\s+₩[\d,]+\s+R\d F\d M\d\s+\S+$", out, re.M)
    grade_rows = {
        line.split()[0]: int(line.split()[-1].replace(",", ""))
        for line in out.splitlines()
        if line.strip() and line.split()[0] in GRADES
    }
    assert set(grade_rows) == set(GRADES)
    assert sum(grade_rows.values()) == int(aggregated.group(1))
    assert "clean exited 0, aggregate exited 0" in done.stderr

    pids = _stage_pids(done.stderr)
    assert set(pids) == {"clean", "aggregate"}
    assert not any(pid_alive(pid) for pid in pids.values())
    assert {p.name for p in logs.glob("*.log")} == {"clean.log", "aggregate.log"}
    prefix = re.search(r"named (demo-[0-9a-f]{8}\.)\*", done.stderr)
    assert prefix is not None
    left = [
        t
        for t in admin_client(kafka_bootstrap).list_topics(timeout=10).topics
        if prefix.group(1) in t
    ]
    assert left == []


def test_a_failing_stage_ends_the_demo_with_the_logs_location(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    # A setting the stages refuse: both exit at once with code 2.
    done = _run_cli(
        "--events", "200", "--keep-logs", str(tmp_path / "logs"),
        env={"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "SHOPSTREAM_COMMIT_INTERVAL_S": "-1"},
    )  # fmt: skip

    assert done.returncode == 1
    assert "exited with code 2" in done.stderr
    assert f"logs are in {tmp_path / 'logs'}" in done.stderr
    assert "SHOPSTREAM_COMMIT_INTERVAL_S" in (tmp_path / "logs" / "clean.log").read_text()
    assert not any(pid_alive(pid) for pid in _stage_pids(done.stderr).values())
