"""The systems under test as child processes: each stage (a Quix Streams application must
own the main thread of its process) and the bare loop, logging into files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from shopstream.deploy.kafka.process import die_with_parent


def stage_command(stage: str) -> list[str]:
    """``shopstream process <stage>`` with this interpreter; the bench creates the topics."""
    return [
        sys.executable,
        "-m",
        "shopstream.processors.cli",
        "process",
        stage,
        "--no-create-topics",
    ]


def limit_command(
    bootstrap_servers: str, source: str, target: str, group: str, commit_interval_s: float
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "shopstream.processors.benchmarks.limit",
        "--bootstrap-servers",
        bootstrap_servers,
        "--source",
        source,
        "--target",
        target,
        "--group",
        group,
        "--commit-interval",
        str(commit_interval_s),
    ]


@dataclass
class Child:
    """One child process: stdout to ``out_path``, stderr to ``log_path``."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    log_path: Path
    out_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> Child:
        with self.log_path.open("ab") as log, self.out_path.open("ab") as out:
            # Started from the main thread: the child gets SIGKILL if the bench dies.
            self.process = subprocess.Popen(
                list(self.argv),
                env={**os.environ, **self.env},
                stdout=out,
                stderr=log,
                preexec_fn=die_with_parent(),
            )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 60) -> int | None:
        """SIGTERM and wait (a stage commits or aborts its transaction); SIGKILL after ``timeout``."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait(30)

    def output(self) -> str:
        return self.out_path.read_text("utf-8", errors="replace")

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text("utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


__all__ = ["Child", "limit_command", "stage_command"]
