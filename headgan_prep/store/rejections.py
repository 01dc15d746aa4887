"""Rejection log: one TSV row per input clip that was not kept, and why."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from headgan_prep.store.atomic import atomic_file

REJECTION_COLUMNS = ("clip_id", "path", "stage", "reason", "detail")


@dataclass(frozen=True)
class Rejection:
    """Why a clip was not kept.

    Attributes
    ----------
    reason : str
        Short machine-readable code, e.g. ``no_face`` or ``corrupt``.
    detail : str
        Human-readable explanation with the measured values.
    """

    reason: str
    detail: str


@dataclass(frozen=True)
class RejectionRow:
    """One row of the rejection TSV (see :data:`REJECTION_COLUMNS`)."""

    clip_id: str
    path: str
    stage: str
    reason: str
    detail: str


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def write_rejections(path: Path, rows: Iterable[RejectionRow]) -> None:
    """Atomically write ``rows`` as a TSV with a header (header only when ``rows`` is empty).

    Rows are sorted by clip id; tabs and newlines inside fields are collapsed to single spaces.
    """
    with atomic_file(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(REJECTION_COLUMNS)
        for row in sorted(rows, key=lambda r: (r.clip_id, r.stage, r.reason)):
            writer.writerow([_one_line(getattr(row, column)) for column in REJECTION_COLUMNS])


def read_rejections(path: Path) -> list[RejectionRow]:
    """Rows of a rejection TSV written by :func:`write_rejections`."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        if tuple(reader.fieldnames or ()) != REJECTION_COLUMNS:
            raise ValueError(f"{path}: expected columns {REJECTION_COLUMNS}, got {reader.fieldnames}")
        return [RejectionRow(**row) for row in reader]


@dataclass
class ShardStats:
    """Outcome of a per-shard job.

    Attributes
    ----------
    n_clips, n_kept, n_rejected : int
        Clips given, written and rejected.
    n_frames : int
        Frames written.
    seconds : float
        Wall time.
    rejected_by_reason : dict[str, int]
        Rejections per reason code.
    """

    n_clips: int = 0
    n_kept: int = 0
    n_rejected: int = 0
    n_frames: int = 0
    seconds: float = 0.0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def frames_per_second(self) -> float:
        """Frames written per second of wall time."""
        return self.n_frames / self.seconds if self.seconds > 0 else 0.0
