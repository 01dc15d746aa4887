"""The per-shard stores the training data is made of, as data: where they live and what a clip holds.

Every stage writes ``{results}/{directory}/{shard}.zarr`` (Zarr v3, one group per clip, root
attribute ``schema``) and, except ``nmfc``, the rejection log ``{results}/rejected/{rejected}/{shard}.tsv``.
Array shapes are written with named dimensions: a name (``T`` frames, ``S`` image side, ...) must
take the same value in every array of a clip, and ``T`` the same value in every stage.

The schema names and the audio feature count are written out here rather than imported from the
stage modules, so that reading the layout (``check``, the dataset index) does not import every
stage's dependencies; a test holds them equal to the stages' own constants.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

N_IBUG = 68
"""The iBUG / dlib 68-point landmark set every landmark backend also gives."""


@dataclass(frozen=True)
class ArraySpec:
    """One array of a clip group.

    Attributes
    ----------
    name : str
    shape : tuple of str or int
        Named dimensions (str) or fixed lengths (int).
    dtype : str
        numpy dtype name.
    nan_allowed : bool
        Whether NaN may occur (float arrays only).
    """

    name: str
    shape: tuple[str | int, ...]
    dtype: str
    nan_allowed: bool = True


@dataclass(frozen=True)
class Stage:
    """One stage's store.

    Attributes
    ----------
    name : str
        Stage name, also the store folder under the results folder.
    schema : str
        Root attribute ``schema`` of its stores.
    rejected : str or None
        Folder of its rejection logs under ``{results}/rejected/``; None when it rejects nothing.
    frames_array : str
        The array whose first dimension is the clip's frame count.
    arrays : tuple of ArraySpec
    """

    name: str
    schema: str
    rejected: str | None
    frames_array: str
    arrays: tuple[ArraySpec, ...]

    def store(self, results: Path, shard: str) -> Path:
        """Path of the stage's store of ``shard``."""
        return Path(results) / self.name / f"{shard}.zarr"

    def rejection_log(self, results: Path, shard: str) -> Path | None:
        """Path of the stage's rejection log of ``shard``, or None."""
        return None if self.rejected is None else Path(results) / "rejected" / self.rejected / f"{shard}.tsv"


STAGES = (
    Stage(
        "crops",
        "headgan.crops/1",
        "ingest",
        "frames",
        (
            ArraySpec("frames", ("T", "S", "S", 3), "uint8"),
            ArraySpec("audio", ("N",), "float32", nan_allowed=False),
            ArraySpec("boxes", ("T", 4), "float32"),
            ArraySpec("scores", ("T",), "float32"),
            ArraySpec("valid", ("T",), "bool"),
        ),
    ),
    Stage(
        "landmarks",
        "headgan.landmarks/1",
        "landmarks",
        "points",
        (
            ArraySpec("points", ("T", "M", 3), "float32", nan_allowed=False),
            ArraySpec("ibug68", ("T", N_IBUG, 3), "float32"),
            ArraySpec("score", ("T",), "float32"),
            ArraySpec("valid", ("T",), "bool"),
            ArraySpec("mouth_box", ("T", 4), "float32"),
        ),
    ),
    Stage(
        "fit",
        "headgan.fit/1",
        "fit",
        "camera",
        (
            ArraySpec("identity", ("n_id",), "float32"),
            ArraySpec("expression", ("T", "n_exp"), "float32"),
            ArraySpec("camera", ("T", 7), "float32"),
            ArraySpec("euler", ("T", 3), "float32"),
            ArraySpec("residual", ("T",), "float32"),
            ArraySpec("valid", ("T",), "bool"),
            ArraySpec("openings", ("T", 3, 2), "float32"),
            ArraySpec("expression_error", ("T",), "float32"),
        ),
    ),
    Stage(
        "nmfc",
        "headgan.nmfc/1",
        None,
        "nmfc",
        (
            ArraySpec("nmfc", ("T", "S", "S", 3), "uint8"),
            ArraySpec("valid", ("T",), "bool"),
        ),
    ),
    Stage(
        "audio",
        "headgan.audio/1",
        "audio",
        "features",
        (ArraySpec("features", ("T", 300), "float32", nan_allowed=False),),
    ),
)
"""The stages in the order the workflow builds them."""


def stage(name: str) -> Stage:
    """The stage of :data:`STAGES` called ``name``."""
    return next(s for s in STAGES if s.name == name)


def shard_split(shard: str) -> str:
    """Split of a shard name ``{split}-{bucket}``."""
    return shard.rsplit("-", 1)[0]


def shards(results: Path, split: str | None = None) -> list[str]:
    """Sorted shard names with a store of any stage under ``results`` (of one split, if given),
    finished (``{shard}.zarr``) or half-written (``.{shard}.zarr.tmp-*``)."""
    found = {
        path.name.lstrip(".").split(".zarr")[0]
        for stage in STAGES
        for pattern in ("*.zarr", ".*.zarr.tmp-*")
        for path in (Path(results) / stage.name).glob(pattern)
    }
    return sorted(s for s in found if split is None or shard_split(s) == split)
