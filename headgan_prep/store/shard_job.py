"""The frame of every per-shard job: one Zarr store written atomically, one rejection log, stats.

Each stage (ingest, landmarks, fit, render, audio) reads the clips of one shard, writes a group per
kept clip into ``{results}/{stage}/{shard}.zarr`` and a row per rejected clip into
``{results}/rejected/{stage}/{shard}.tsv``. :func:`shard_job` does what they share: the store is
built in a temporary sibling and renamed when complete, its root gets the ``schema``, ``shard`` and
``n_clips`` attributes, the rejection log is written (even when empty), and the stats are
finalised.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import zarr

from headgan_prep.store.atomic import atomic_directory
from headgan_prep.store.rejections import RejectionRow, ShardStats, write_rejections


def clip_groups(store: zarr.Group) -> list[str]:
    """Sorted names of the clip groups of a store. Snakemake's ``.snakemake_timestamp`` file in a
    directory output is not part of the hierarchy; it is skipped without zarr's warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Object at .snakemake_timestamp")
        return sorted(store.group_keys())


@dataclass
class ShardJob:
    """A per-shard job's output while it is written.

    Attributes
    ----------
    root : zarr.Group
        Root group of the store being written.
    stats : ShardStats
        Counts so far (``seconds``: wall time since the job started).
    rejections : list of RejectionRow
    """

    root: zarr.Group
    stats: ShardStats
    rejections: list[RejectionRow] = field(default_factory=list)
    _start: float = field(default_factory=time.perf_counter)

    def kept(self, n_frames: int) -> None:
        """Count a clip written with ``n_frames`` frames."""
        self.stats.n_kept += 1
        self.stats.n_frames += int(n_frames)
        self.stats.seconds = time.perf_counter() - self._start

    def reject(self, row: RejectionRow) -> None:
        """Log a clip not written."""
        self.rejections.append(row)
        self.stats.seconds = time.perf_counter() - self._start

    def progress(self) -> dict[str, str | int]:
        """Postfix of a progress bar: kept, rejected, frames/s."""
        return {"kept": self.stats.n_kept, "rejected": len(self.rejections), "fps": f"{self.stats.frames_per_second:.0f}"}


@contextlib.contextmanager
def shard_job(out_store: Path, rejected_tsv: Path | None, stats: ShardStats, attributes: dict) -> Iterator[ShardJob]:
    """Write one shard's store and rejection log.

    Parameters
    ----------
    out_store : Path
        ``{shard}.zarr`` to create; its stem is the shard name. Replaced if it exists; on an error
        nothing is left that looks finished.
    rejected_tsv : Path or None
        The rejection log (None for a stage that rejects nothing).
    stats : ShardStats
        Filled in: kept, frames and seconds as clips go, then rejected and rejected_by_reason.
    attributes : dict
        Root attributes (``schema``, ``config``, ...); ``shard`` and ``n_clips`` (the clips kept)
        are added.
    """
    out_store = Path(out_store)
    with atomic_directory(out_store) as tmp:
        job = ShardJob(zarr.open_group(store=str(tmp), mode="w", zarr_format=3), stats)
        yield job
        job.root.attrs.update({**attributes, "shard": out_store.stem, "n_clips": stats.n_kept})
    if rejected_tsv is not None:
        write_rejections(rejected_tsv, job.rejections)
    stats.n_rejected = len(job.rejections)
    stats.rejected_by_reason = dict(sorted(Counter(r.reason for r in job.rejections).items()))
    stats.seconds = time.perf_counter() - job._start
