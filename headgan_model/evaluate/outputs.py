"""The applications' task folders as the evaluation reads them (layouts in :mod:`headgan_model.apps`)."""

from __future__ import annotations

from pathlib import Path

from headgan_model.apps.tables import read_tsv


class TaskOutputError(ValueError):
    """A task folder lacks its table, or names clips the dataset index does not have."""


def _table(folder: Path, name: str) -> list[dict]:
    path = Path(folder) / name
    if not path.is_file():
        raise TaskOutputError(f"{path} is missing: {folder} is not a finished task folder (run `snakemake apps`)")
    return read_tsv(path)


def task_rows(task_dirs: list[Path]) -> list[tuple[Path, dict]]:
    """(task folder, ``clips.tsv`` row) of every clip of the folders (reconstruct, frontalise), by clip id."""
    rows = [(Path(folder), row) for folder in task_dirs for row in _table(folder, "clips.tsv")]
    return sorted(rows, key=lambda item: item[1]["clip_id"])


def pair_rows(folder: Path) -> list[dict]:
    """The rows of a reenactment folder's ``pairs.tsv``, in its order."""
    return _table(folder, "pairs.tsv")


def check_known(clip_ids: list[str], known, what: str) -> None:
    """Raise :class:`TaskOutputError` when a clip id is not among ``known`` (an index's ids)."""
    unknown = sorted(set(clip_ids) - set(known))
    if unknown:
        raise TaskOutputError(f"{what}: clips {unknown[:3]} ({len(unknown)} in all) are not in the dataset index")
