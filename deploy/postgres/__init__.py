"""A throwaway local PostgreSQL server (initdb + pg_ctl) for tests and benchmarks.

`LocalPostgres` runs a cluster in a temporary directory on a free loopback port, as the
`postgres` user when run as root. Debian's `postgresql` package provides the programs
(`make postgres`).
"""

from __future__ import annotations

from shopstream.deploy.kafka.node_config import free_port
from shopstream.deploy.postgres.errors import (
    PostgresLauncherError,
    ServerNotInstalledError,
    ServerStartError,
    ServerStopError,
)
from shopstream.deploy.postgres.launcher import USER, LocalPostgres, server_bin_dir

__all__ = [
    "USER",
    "LocalPostgres",
    "PostgresLauncherError",
    "ServerNotInstalledError",
    "ServerStartError",
    "ServerStopError",
    "free_port",
    "server_bin_dir",
]
