"""The tests' throwaway PostgreSQL server: the product's launcher, `shopstream.deploy.postgres`
(initdb + pg_ctl in a temporary directory on a free loopback port, as the `postgres` user
when root; tuned for tests: fsync off). The benchmarks start the same server, durable.
"""

from __future__ import annotations

from shopstream.deploy.postgres import USER, LocalPostgres, free_port, server_bin_dir

__all__ = ["USER", "LocalPostgres", "free_port", "server_bin_dir"]
