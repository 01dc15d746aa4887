"""Tiny per-shard stores of every stage, in the layouts the stage writers use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import zarr

from headgan_prep.store.rejections import RejectionRow, write_rejections
from headgan_prep.store.layout import STAGES

SIZE = 8
"""Side of the tiny crops and NMFC images, pixels."""
N_POINTS = 5
N_ID, N_EXP = 4, 3
READS = {"crops": (), "landmarks": ("crops",), "fit": ("crops", "landmarks"), "nmfc": ("crops", "landmarks", "fit")}
READS["audio"] = ("crops",)
"""Per stage, the stages whose rejections it inherits."""


def clip_arrays(n_frames: int, seed: int = 0, size: int = SIZE) -> dict[str, dict[str, np.ndarray]]:
    """Per stage name, the arrays of one clip of ``n_frames`` frames of ``size``² pixels."""
    rng = np.random.default_rng(seed)
    t = n_frames
    return {
        "crops": {
            "frames": rng.integers(0, 256, (t, size, size, 3), dtype=np.uint8),
            "audio": rng.uniform(-1, 1, 640 * t).astype(np.float32),
            "boxes": rng.uniform(0, 100, (t, 4)).astype(np.float32),
            "scores": rng.uniform(0, 1, t).astype(np.float32),
            "valid": np.ones(t, bool),
        },
        "landmarks": {
            "points": rng.uniform(0, size, (t, N_POINTS, 3)).astype(np.float32),
            "ibug68": rng.uniform(0, size, (t, 68, 3)).astype(np.float32),
            "score": rng.uniform(0, 1, t).astype(np.float32),
            "valid": np.ones(t, bool),
            "mouth_box": rng.uniform(0, size, (t, 4)).astype(np.float32),
        },
        "fit": {
            "identity": rng.normal(size=N_ID).astype(np.float32),
            "expression": rng.normal(size=(t, N_EXP)).astype(np.float32),
            "camera": rng.normal(size=(t, 7)).astype(np.float32),
            "euler": rng.normal(size=(t, 3)).astype(np.float32),
            "residual": rng.uniform(0, 1, t).astype(np.float32),
            "valid": np.ones(t, bool),
            "openings": rng.uniform(0, 20, (t, 3, 2)).astype(np.float32),
            "expression_error": rng.uniform(0, 0.2, t).astype(np.float32),
        },
        "nmfc": {
            "nmfc": rng.integers(0, 256, (t, size, size, 3), dtype=np.uint8),
            "valid": np.ones(t, bool),
        },
        "audio": {"features": rng.normal(size=(t, 300)).astype(np.float32)},
    }


def write_results(
    results: Path, shards: dict[str, dict[str, int]], rejected: dict[str, list] | None = None, size: int = SIZE
) -> None:
    """Stores and rejection logs of every stage under ``results``.

    Parameters
    ----------
    results : Path
    shards : dict
        ``{shard: {clip_id: n_frames}}``; a clip's identity is its id up to the first ``+``.
    rejected : dict, optional
        ``{stage name: [(shard, clip_id, reason)]}``: the clip is left out of that stage's store and
        of the stores of the stages that read it (:data:`READS`), and logged in the stage's rejection log.
    size : int
        Side of the frames and NMFC images, pixels.
    """
    rejected = rejected or {}
    for shard, clips in shards.items():
        for seed, stage in enumerate(STAGES):
            rows = [(c, reason) for s, c, reason in rejected.get(stage.name, []) if s == shard]
            sources = (*READS[stage.name], stage.name)
            left_out = {c for name in sources for s, c, _ in rejected.get(name, []) if s == shard}
            kept = {c: n for c, n in clips.items() if c not in left_out}
            root = zarr.open_group(str(stage.store(results, shard)), mode="w", zarr_format=3)
            root.attrs.update({"schema": stage.schema, "shard": shard, "n_clips": len(kept)})
            for index, (clip_id, n_frames) in enumerate(sorted(kept.items())):
                attrs = {"clip_id": clip_id, "n_frames": n_frames, "identity": clip_id.split("+")[0]}
                group = root.create_group(clip_id, attributes=attrs)
                for name, values in clip_arrays(n_frames, seed=seed * 100 + index, size=size)[stage.name].items():
                    group.create_array(name, data=values)
            if stage.rejected is not None:
                log_rows = [RejectionRow(c, "", stage.rejected, reason, "detail") for c, reason in rows]
                write_rejections(stage.rejection_log(results, shard), log_rows)


def replace_array(results: Path, stage: str, shard: str, clip_id: str, name: str, values: np.ndarray) -> None:
    """Overwrite one array of a clip group with ``values`` (any shape and dtype)."""
    path = next(s for s in STAGES if s.name == stage).store(results, shard)
    group = zarr.open_group(str(path / clip_id), mode="a")
    group.create_array(name, data=values, overwrite=True)


def crop_store(path, clips):
    """A crop store at ``path`` holding ``clips``: clip id → (frames (T, S, S, 3) uint8, valid (T,) bool)."""
    root = zarr.open_group(str(path), mode="w")
    for clip_id, (frames, valid) in clips.items():
        group = root.create_group(clip_id)
        group.create_array("frames", data=frames)
        group.create_array("valid", data=valid)
    return path


def grey_clip(n, level, invalid=()):
    """``n`` grey frames of 64² at ``level``, valid except the frames in ``invalid``."""
    frames = np.full((n, 64, 64, 3), level, np.uint8)
    valid = np.ones(n, bool)
    valid[list(invalid)] = False
    return frames, valid
