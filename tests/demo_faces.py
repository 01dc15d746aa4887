"""Expressive demo clips for the tests (talking and blinking faces whose true openings are in their
ground truth), as the sources of the stages, and their truth in crop pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import zarr

from headgan_prep.demo.generate import GroundTruth, make_demo
from headgan_prep.manifest.table import Clip

CLIP_OPTIONS = dict(seconds=1.6, frame_size=(320, 240), face_size=120, layout="flat", audio=False, progress=False)
"""Short demo clips: 40 frames (ingest keeps clips of 25 or more), faces of 120 px."""


def demo_sources(out: Path, identities: int, clips_per_identity: int = 2) -> list[Clip]:
    """The clips of a demo (:data:`CLIP_OPTIONS`, three in four expressive) under ``out``, as
    training-split sources with their identities."""
    summary = make_demo(out, identities=identities, clips_per_identity=clips_per_identity, **CLIP_OPTIONS)
    return [Clip(c.clip_id, c.identity, "train", str(out / "videos" / c.path)) for c in summary.clips]


def truth_in_crop(demo: Path, crops: Path, clip_id: str) -> tuple[np.ndarray, np.ndarray]:
    """The main face's true mouth opening ``(T,)`` in crop pixels and eye openness ``(T,)`` of the
    frames ingest kept of a clip (``clip_id`` of the crop store; a segment ``{clip}+{k}`` of
    :func:`tests.real_faces.segment_store` takes the whole clip's truth, as one segment per clip
    does)."""
    root = zarr.open_group(str(crops), mode="r")
    group = root[clip_id]
    truth = GroundTruth.load(demo / "ground_truth" / f"{clip_id.split('+')[0]}.npz")
    start, stop = group.attrs["shot"]
    scale = root.attrs["config"]["crop_size"] / group.attrs["crop_box"][2]
    return truth.mouth_opening[start:stop, 0] * scale, truth.eye_openness[start:stop, 0]
