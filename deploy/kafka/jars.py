"""Fetch the jars of one Kafka release from Maven Central, once, into the user's cache."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from shopstream.deploy.kafka.errors import JarResolutionError
from shopstream.deploy.kafka.settings import LauncherSettings

Progress = Callable[[str], None]

_MARKER = "libs.complete"
_MAVEN_TIMEOUT_S = 900


def kafka_libs(
    version: str | None = None,
    *,
    settings: LauncherSettings | None = None,
    progress: Progress | None = None,
) -> Path:
    """Return the folder of jars for `java -cp 'libs/*'`, resolving them with Maven if needed.

    Idempotent and safe to call from concurrent processes: a marker file records a
    complete download and a file lock serialises the first one.
    """
    settings = settings or LauncherSettings()
    version = version or settings.kafka_version
    home = settings.kafka_cache_dir(version)
    libs = home / "libs"
    if (home / _MARKER).is_file():
        return libs
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (home / _MARKER).is_file():
            _resolve(version, home, progress or _silent)
    return libs


def _resolve(version: str, home: Path, progress: Progress) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise JarResolutionError(
            "Maven (`mvn`) is not on PATH; it is needed once to fetch Kafka's jars "
            "(Debian: apt-get install maven)"
        )
    pom = home / "pom.xml"
    pom.write_bytes(resources.files("shopstream.deploy.kafka").joinpath("pom.xml").read_bytes())
    staging = home / "libs.partial"
    shutil.rmtree(staging, ignore_errors=True)
    progress(f"Fetching Apache Kafka {version} jars from Maven Central into {home / 'libs'} ...")
    command = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(pom),
        f"-Dkafka.version={version}",
        f"-DoutputDirectory={staging}",
        "dependency:copy-dependencies",
    ]
    try:
        done = subprocess.run(
            command, cwd=home, capture_output=True, text=True, timeout=_MAVEN_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise JarResolutionError(f"could not run Maven for Kafka {version}: {exc}") from exc
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip().splitlines()
        raise JarResolutionError(
            f"Maven could not resolve org.apache.kafka:kafka_2.13:{version} "
            f"(exit {done.returncode}):\n" + "\n".join(output[-30:])
        )
    if not (staging / f"kafka_2.13-{version}.jar").is_file():
        raise JarResolutionError(f"Maven succeeded but {staging} lacks kafka_2.13-{version}.jar")
    shutil.rmtree(home / "libs", ignore_errors=True)
    staging.rename(home / "libs")
    (home / _MARKER).write_text(f"{version}\n")
    progress(f"Kafka {version}: {len(list((home / 'libs').glob('*.jar')))} jars ready.")


def _silent(_: str) -> None:
    return None


__all__ = [
    "Progress",
    "kafka_libs",
]
