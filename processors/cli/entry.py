"""The `shopstream` console script, installed with the base package.

The base install is what a shop site embeds and has no CLI dependencies; the command
then explains how to get them instead of failing with a traceback.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from shopstream.processors.cli import app
    except ModuleNotFoundError as exc:  # typer and friends come with the extras
        sys.stderr.write(
            f"shopstream: the command line needs the 'processors' extra ({exc.name} is missing):\n"
            "    pip install 'shopstream[processors]'\n"
        )
        raise SystemExit(2) from exc
    app()


__all__ = [
    "main",
]
