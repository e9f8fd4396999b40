"""Start-up: bring an output folder back to "exactly what the manifests say".

After a kill -9 the folder may hold, besides landed data:

- ``.tmp`` files (a write cut short): deleted;
- a recorded compaction whose inputs are not all deleted yet: finished;
- data files of a batch whose manifest was never written (orphans: their range ends at
  or after the partition's progress, or the partition has no manifest at all): deleted;
- the inputs of a compaction that died before recording itself (files covered by another
  file of the same directory): deleted;
- ``latest`` snapshots behind the history: the missing history rows merged in.

Every step is idempotent, so a crash during recovery is recovered by the next start.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from shopstream.processors.sinks.parquet.compaction import (
    Compactor,
    covered_files,
    list_data_files,
)
from shopstream.processors.sinks.parquet.files import remove, remove_empty_dirs
from shopstream.processors.sinks.parquet.latest import LatestSnapshots
from shopstream.processors.sinks.parquet.layout import EVENTS, FEATURES, HISTORY, is_tmp
from shopstream.processors.sinks.parquet.manifests import ManifestStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecoveryReport:
    tmp_removed: int = 0
    compactions_finished: int = 0
    orphans_removed: int = 0
    covered_removed: int = 0
    snapshots_repaired: int = 0

    @property
    def changed(self) -> bool:
        return any(
            (
                self.tmp_removed,
                self.compactions_finished,
                self.orphans_removed,
                self.covered_removed,
                self.snapshots_repaired,
            )
        )


def recover(
    out: Path, manifests: ManifestStore, compactor: Compactor, latest: LatestSnapshots
) -> RecoveryReport:
    tmp_removed = 0
    for folder, _, names in os.walk(out):
        for name in names:
            if is_tmp(name):
                remove(Path(folder, name))
                tmp_removed += 1
    finished = compactor.finish_recorded()
    progress = manifests.progress()
    orphans = covered = 0
    for root in (out / EVENTS, out / FEATURES / HISTORY):
        for folder, _, names in os.walk(root):
            if not any(n.endswith(".parquet") for n in names):
                continue
            landed = []
            for f in list_data_files(Path(folder)):
                done = progress.get((f.range.topic, f.range.partition))
                if done is None or f.range.last >= done:
                    log.info("removing %s: its batch has no manifest", f.path)
                    remove(f.path)
                    orphans += 1
                else:
                    landed.append(f)
            for f in covered_files(landed):
                log.info("removing %s: a compacted file holds its rows", f.path)
                remove(f.path)
                covered += 1
        if orphans:
            remove_empty_dirs(root)
    repaired = latest.repair(progress)
    return RecoveryReport(tmp_removed, finished, orphans, covered, repaired)
