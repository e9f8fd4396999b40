"""The `/status` page in headless Chromium and `shopstream status`, on a running pipeline.

Chromium (Debian's package, `make chromium`) loads each stage's page, lets its script
poll ``status.json`` (a virtual-time budget), and dumps the DOM: the numbers the script
rendered must be the stage's own ``/metrics``. A screenshot must be a real picture: a
PNG of the window's size with many colours, among them the dead-letter bars' red and the
readiness badge's green, which only the script draws.
"""

from __future__ import annotations

import json
import shutil
import signal
import struct
import subprocess
import urllib.request
import zlib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from shopstream.processors.cli import app
from tests.integration.pipeline import Pipeline, StageProcess, run_simulator, wait_until
from tests.integration.test_pipeline import EXPECTED_RULES
from tests.oracle import expected_counts

WINDOW = (1200, 1000)
DEAD_LETTER_RED = (0xCF, 0x22, 0x2E)  # .bar in status.html
READY_GREEN = (0x1A, 0x7F, 0x37)  # .badge.ok


def test_status_page_renders_live_numbers(pipeline: Pipeline, tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian's chromium is not installed: run `make chromium`")
    # The stages start while the simulator sends: their start-up is most of the wait.
    fast_lag = {"SHOPSTREAM_LAG_INTERVAL_S": "1"}
    clean = pipeline.stage("clean", "--metrics-port", "0", **fast_lag)
    aggregate = pipeline.stage("aggregate", "--metrics-port", "0", **fast_lag)
    jsonl = tmp_path / "sent.jsonl"
    run_simulator(
        pipeline.bootstrap, pipeline.topics.raw, jsonl,
        events=300, buyers=20, bad_fraction=0.1, seed=5,
    )  # fmt: skip
    counts = expected_counts(jsonl)
    wait_until(lambda: pipeline.drained(counts["raw"]), timeout=90, what="the pipeline to drain")
    clean_url, aggregate_url = _base_url(clean), _base_url(aggregate)
    for base in (clean_url, aggregate_url):
        wait_until(
            lambda base=base: _settled(json.loads(_get(f"{base}/status.json"))),
            timeout=30, interval=0.6, what=f"ready with lag 0 at {base}",
        )  # fmt: skip

    clean_metrics = _samples(_get(f"{clean_url}/metrics"))
    events_in = _sum(clean_metrics, "shopstream_events_in_total{")
    assert events_in == counts["raw"]
    reasons = {
        _label(k, "reason"): int(v)
        for k, v in clean_metrics.items()
        if k.startswith("shopstream_rejections_total{")
    }
    dead_letters = _sum(
        clean_metrics, "shopstream_events_out_total{", f'topic="{pipeline.topics.dlq}"'
    )
    assert dead_letters == counts["bad"] > 0

    # Both pages at once: Chromium's start-up is most of the time.
    screenshot = tmp_path / "status.png"
    browsers = {
        "clean-dom": _chromium(chromium, tmp_path / "p1", f"{clean_url}/status", "--dump-dom"),
        "aggregate-dom": _chromium(chromium, tmp_path / "p2", f"{aggregate_url}/status", "--dump-dom"),
        "clean-png": _chromium(chromium, tmp_path / "p3", f"{clean_url}/status", f"--screenshot={screenshot}"),
    }  # fmt: skip
    outputs = {name: _finish(name, process) for name, process in browsers.items()}

    page = _Page.parse(outputs["clean-dom"])
    assert page.text["stage"] == "clean"
    assert page.text["ready"] == "Ready"
    assert page.text["events-in-total"] == str(events_in)
    assert page.text["events-out-total"] == str(counts["clean"])
    assert page.text["dead-letters-total"] == str(dead_letters)
    assert page.text["lag-total"] == "0"
    assert page.text["restoring"] == "0"
    assert page.text["latency-p50"] not in ("", "–")
    assert page.text["latency-p99"] not in ("", "–")
    # Every reason the stage counts, with its count; the simulator's bad kinds non-zero.
    shown = {r: row[:2] for r, row in page.rows["dead-letters-table"].items()}
    assert shown == {r: [r, str(n)] for r, n in reasons.items()}
    bad_kinds = {k.removeprefix("bad:") for k in counts if k.startswith("bad:")}
    bad_rules = {EXPECTED_RULES[k] for k in bad_kinds if k in EXPECTED_RULES}
    assert bad_rules
    assert bad_rules <= {r for r, n in reasons.items() if n > 0}
    assert page.rows["lag-table"] == {  # the raw topic has 3 partitions here
        str(p): [pipeline.topics.raw, str(p), "0"] for p in range(3)
    }
    types_in = {
        _label(k, "type"): int(v)
        for k, v in clean_metrics.items()
        if k.startswith("shopstream_events_in_total{")
    }
    assert {t: row[1] for t, row in page.rows["events-in-table"].items()} == {
        t: str(n) for t, n in types_in.items()
    }
    # The charts are drawn: one line per event type, over several readings.
    assert set(page.series["chart-in"]) == set(types_in)
    assert max(page.series["chart-in"].values()) >= 2

    aggregate_metrics = _samples(_get(f"{aggregate_url}/metrics"))
    aggregate_page = _Page.parse(outputs["aggregate-dom"])
    assert aggregate_page.text["stage"] == "aggregate"
    assert aggregate_page.text["ready"] == "Ready"
    assert aggregate_page.text["events-in-total"] == str(
        _sum(aggregate_metrics, "shopstream_events_in_total{")
    )
    assert aggregate_page.text["events-out-total"] == str(
        _sum(aggregate_metrics, "shopstream_buyers_emitted_total{")
    )

    width, height, colours = _png_colours(screenshot.read_bytes())
    assert (width, height) == WINDOW
    assert len(colours) > 50  # text, charts, bars: not a blank page
    assert colours[DEAD_LETTER_RED] > 100
    assert colours[READY_GREEN] > 100

    # The terminal view, from the stages, then with stage 2 silent: its lag from Kafka.
    runner, env = CliRunner(), {**pipeline.env, "COLUMNS": "200"}
    once = runner.invoke(
        app, ["status", "--once", "--stage", clean_url, "--stage", aggregate_url], env=env
    )
    assert once.exit_code == 0, once.output
    assert f"{events_in} (" in once.output
    for reason, n in reasons.items():
        assert any(reason in line and f" {n} " in line for line in once.output.splitlines()), reason
    assert once.output.count(pipeline.topics.raw) == 3  # lag rows, measured by stage 1
    assert once.output.count(pipeline.topics.clean) == 3  # and by stage 2
    silent = "http://127.0.0.1:9"
    fallback = runner.invoke(
        app, ["status", "--json", "--stage", clean_url, "--stage", silent], env=env
    )
    assert fallback.exit_code == 0, fallback.output
    doc = json.loads(fallback.output)
    assert set(doc["stages"]) == {"clean"}
    assert silent in doc["unreachable"]
    assert doc["kafka_lag"]["aggregate"] == [
        {"topic": pipeline.topics.clean, "partition": p, "lag": 0} for p in range(3)
    ]

    # Both stopped at once, each committing or aborting its transaction.
    processes = [stage.process for stage in (clean, aggregate) if stage.process is not None]
    for process in processes:
        process.send_signal(signal.SIGTERM)
    assert [process.wait(60) for process in processes] == [0, 0]


# -- the browser ---------------------------------------------------------------------------------
def _chromium(binary: str, profile: Path, url: str, action: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--hide-scrollbars", "--force-device-scale-factor=1",
            f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
            # Virtual time: the page's timers run, its fetches to the stage are real.
            "--virtual-time-budget=4000", action, url,
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _finish(name: str, process: subprocess.Popen[str]) -> str:
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    assert process.returncode == 0, f"chromium ({name}) exited {process.returncode}: {err[-2000:]}"
    return out


_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


class _Page(HTMLParser):
    """Text by element id, table rows by their data-* key, chart lines by series."""

    def __init__(self) -> None:
        super().__init__()
        self.text: dict[str, str] = {}
        self.rows: dict[str, dict[str, list[str]]] = {}
        self.series: dict[str, dict[str, int]] = {}
        self._open: list[tuple[str, str | None]] = []  # (tag, id)
        self._table: str | None = None
        self._svg: str | None = None
        self._row: tuple[str, list[str]] | None = None
        self._cell: list[str] | None = None

    @classmethod
    def parse(cls, html: str) -> _Page:
        page = cls()
        page.feed(html)
        return page

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id")
        elif tag == "svg":
            self._svg = a.get("id")
        elif tag == "polyline" and self._svg:
            points = len((a.get("points") or "").split())
            self.series.setdefault(self._svg, {})[a.get("data-series") or ""] = points
        elif tag == "tr" and self._table:
            key = next((v for k, v in attrs if k.startswith("data-") and v is not None), None)
            self._row = (key, []) if key is not None else None
        elif tag == "td" and self._row is not None:
            self._cell = []
        if tag not in _VOID:
            self._open.append((tag, a.get("id")))
            if a.get("id"):
                self.text[str(a["id"])] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row[1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table:
            # Bar cells hold no text.
            self.rows.setdefault(self._table, {})[self._row[0]] = [c for c in self._row[1] if c]
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "svg":
            self._svg = None
        if any(open_tag == tag for open_tag, _ in self._open):
            while self._open.pop()[0] != tag:
                pass

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        for _, element_id in self._open:
            if element_id:
                self.text[element_id] += data


# -- the screenshot: just enough PNG (8-bit RGB or RGBA, not interlaced) to count colours ---------
def _png_colours(data: bytes) -> tuple[int, int, Counter[tuple[int, int, int]]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, bytearray(), None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    assert header is not None
    width, height, depth, colour_type, _, _, interlace = header
    assert (depth, interlace) == (8, 0), header
    assert colour_type in (2, 6), header
    bpp = 3 if colour_type == 2 else 4
    raw, stride = zlib.decompress(bytes(idat)), width * bpp
    colours: Counter[tuple[int, int, int]] = Counter()
    previous = bytearray(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        _unfilter(kind, line, previous, bpp)
        colours.update(zip(line[0::bpp], line[1::bpp], line[2::bpp], strict=True))
        previous = line
    return width, height, colours


def _unfilter(kind: int, line: bytearray, up: bytearray, bpp: int) -> None:
    if kind == 0:
        return
    if kind == 2:
        line[:] = bytes((a + b) & 255 for a, b in zip(line, up, strict=True))
        return
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        above, corner = up[i], (up[i - bpp] if i >= bpp else 0)
        if kind == 1:
            line[i] = (line[i] + left) & 255
        elif kind == 3:
            line[i] = (line[i] + (left + above) // 2) & 255
        else:  # 4, Paeth
            p = left + above - corner
            pa, pb, pc = abs(p - left), abs(p - above), abs(p - corner)
            pred = left if pa <= pb and pa <= pc else above if pb <= pc else corner
            line[i] = (line[i] + pred) & 255


# -- the stage ---------------------------------------------------------------------------------
def _settled(doc: dict[str, Any]) -> bool:
    """Ready, lag measured at 0 on all 3 partitions, and a few readings for the charts."""
    lag = doc["lag"]
    return (
        bool(doc["ready"]["ok"])
        and len(lag["partitions"]) == 3
        and lag["total"] == 0
        and len(doc["history"]) >= 3
    )


def _base_url(stage: StageProcess) -> str:
    marker = "metrics and probes on http://127.0.0.1:"
    wait_until(lambda: marker in stage.log(), timeout=60, what="the metrics port")
    return "http://127.0.0.1:" + stage.log().split(marker)[1].split("/")[0]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 — loopback only
        return str(response.read().decode())


def _samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def _sum(samples: dict[str, float], prefix: str, *having: str) -> int:
    return int(
        sum(v for k, v in samples.items() if k.startswith(prefix) and all(h in k for h in having))
    )


def _label(sample: str, name: str) -> str:
    return sample.split(f'{name}="', 1)[1].split('"', 1)[0]
