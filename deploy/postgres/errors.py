"""Errors of the local PostgreSQL launcher, one class per phase under a single root."""

from __future__ import annotations


class PostgresLauncherError(RuntimeError):
    """Root of every error raised by `shopstream.deploy.postgres`."""


class ServerNotInstalledError(PostgresLauncherError):
    """No initdb / pg_ctl on this machine (`make postgres` installs Debian's server)."""


class _OutputError(PostgresLauncherError):
    """`output` holds what the program (or the server log) said."""

    def __init__(self, message: str, *, output: str = "") -> None:
        super().__init__(f"{message}\n--- output ---\n{output}" if output else message)
        self.output = output


class ServerStartError(_OutputError):
    """initdb or pg_ctl could not start the server."""


class ServerStopError(_OutputError):
    """pg_ctl could not stop the server."""
