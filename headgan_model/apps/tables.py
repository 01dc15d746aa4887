"""Small tab-separated tables the applications write next to their videos."""

from __future__ import annotations

import csv
from pathlib import Path

from headgan_prep.store.atomic import atomic_file


def write_tsv(path: Path, rows: list[dict], columns: tuple[str, ...]) -> None:
    """Write ``rows`` (dicts with at least ``columns``) as TSV with a header, atomically."""
    with atomic_file(Path(path), "w", newline="") as handle:
        writer = csv.DictWriter(handle, columns, delimiter="\t", extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def read_tsv(path: Path) -> list[dict]:
    """The rows of a TSV written by :func:`write_tsv` (values as strings)."""
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))
