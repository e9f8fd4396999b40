"""A throwaway PostgreSQL server: initdb + pg_ctl in a temporary directory, on a free port.

Debian's `postgresql` package (`make postgres` installs it) puts the server programs in
/usr/lib/postgresql/<major>/bin/, off the PATH. initdb refuses to run as root, so as root
the server runs as the `postgres` user in a directory that user owns.

By default the cluster is tuned for tests, not durability (fsync, synchronous commit and
full-page writes off: the tests kill the sink, not the server). ``durable=True`` keeps
PostgreSQL's own defaults for these three, as a production server has them (the sink
benchmark uses it).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

from psycopg.conninfo import make_conninfo

from shopstream.deploy.kafka.node_config import free_port
from shopstream.deploy.postgres.errors import (
    ServerNotInstalledError,
    ServerStartError,
    ServerStopError,
)

USER = "shopstream"
"""The cluster's superuser."""

_NOT_DURABLE = " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"


def server_bin_dir() -> Path:
    """The folder of initdb and pg_ctl: the PATH's, else Debian's newest major version."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if not candidates:
        raise ServerNotInstalledError(
            "initdb not found: run `make postgres` (Debian's postgresql package)"
        )
    return Path(candidates[-1]).parent


class LocalPostgres:
    """One cluster on 127.0.0.1:<free port>, superuser ``shopstream`` with a password.

    ``start()`` ... ``stop()``, or ``with LocalPostgres() as server:``; ``stop()`` also
    deletes the directory.
    """

    def __init__(self, *, durable: bool = False) -> None:
        self.bin = server_bin_dir()
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="shopstream-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.password = os.urandom(12).hex()
        self._as_root = os.geteuid() == 0
        if self._as_root:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)

    @property
    def dsn(self) -> str:
        return make_conninfo(
            host="127.0.0.1", port=self.port, user=USER, password=self.password, dbname="postgres"
        )

    def version(self) -> str:
        """The server programs' version, e.g. ``pg_ctl (PostgreSQL) 15.14``."""
        return self._run(str(self.bin / "pg_ctl"), "--version").strip()

    def cpu_seconds(self) -> float | None:
        """CPU time the server has used so far (Linux): the postmaster, its live children
        and the children it has reaped; None when it is not running."""
        try:
            postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        ticks = 0
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                stat = (proc / "stat").read_text()
            except OSError:  # gone meanwhile
                continue
            # After "pid (comm) ": state, ppid, ... utime, stime, cutime, cstime (fields 3-17).
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(proc.name) == postmaster:
                ticks += sum(int(x) for x in fields[11:15])
            elif int(fields[1]) == postmaster:
                ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def _run(self, *args: str) -> str:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_root else []
        done = subprocess.run(
            [*prefix, *args], check=True, capture_output=True, text=True, timeout=120
        )
        return done.stdout

    def start(self) -> Self:
        pwfile = self.root / "pw"
        pwfile.write_text(self.password)
        if self._as_root:
            owner = pwd.getpwnam("postgres")
            os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        pwfile.chmod(0o600)
        try:
            self._run(
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                USER,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            )
        except subprocess.CalledProcessError as exc:
            raise ServerStartError("initdb failed", output=exc.stderr or "") from exc
        finally:
            pwfile.unlink()
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port}"
            f" -c unix_socket_directories={self.root}"
            + ("" if self.durable else _NOT_DURABLE)
            + " -c max_connections=200"
        )
        log = self.root / "server.log"
        try:
            self._run(
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(log),
                "-o",
                options,
                "-w",
                "-t",
                "120",
                "start",
            )
        except subprocess.CalledProcessError as exc:
            tail = log.read_text(errors="replace")[-4000:] if log.exists() else exc.stderr
            raise ServerStartError("pg_ctl start failed", output=tail or "") from exc
        return self

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(
                    str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"
                )
        except subprocess.CalledProcessError as exc:
            raise ServerStopError("pg_ctl stop failed", output=exc.stderr or "") from exc
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
