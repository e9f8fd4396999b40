"""Logging for the long-running commands: one JSON object per line, or plain text.

Only the command line configures logging (library code never does). The stages log
what happened and where (topic, partition, offset, counts), never an event's values,
so a log line holds no personal data; the tests scan the logs to prove it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message"}`` plus ``exc_type`` when there is one.

    Tracebacks are left out of JSON logs: exception messages from libraries can quote
    the data they choked on, and the type is what an operator searches for.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_type"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(fmt: str = "json", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Python warnings (a library's deprecation notice at import) go through the same
    # handler, so that every line on stderr is a JSON object.
    logging.captureWarnings(True)
