"""Preview of a split's worst expression errors: the frames whose NMFC shows the mouth or eyes least
like the landmarks (:mod:`headgan_prep.fit.expression`), each as crop with its landmarks | NMFC."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import zarr

from headgan_prep.preview import label, resized, stack

CONTOUR_POINTS = np.r_[36:48, 60:68]
"""iBUG points drawn larger: the eyes and inner lips the expression error measures."""


def worst_frames(fit_stores: list[Path], n_frames: int) -> list[tuple[float, Path, str, int]]:
    """The ``n_frames`` frames of the fit stores with the largest expression error.

    Returns
    -------
    list of (error, fit store, clip id, frame)
        Largest error first; ties in store, clip and frame order (deterministic).
    """
    found = []
    for store in fit_stores:
        root = zarr.open_group(str(store), mode="r")
        for clip_id in sorted(root.group_keys()):
            if "expression_error" not in root[clip_id].array_keys():
                continue
            error = np.asarray(root[clip_id]["expression_error"][...], np.float64)
            for t in np.flatnonzero(np.isfinite(error)):
                found.append((-float(error[t]), str(store), clip_id, int(t)))
    found.sort()
    return [(-error, Path(store), clip_id, t) for error, store, clip_id, t in found[:n_frames]]


def _pair(crop: np.ndarray, ibug68: np.ndarray, nmfc: np.ndarray, tile: int, text: str) -> np.ndarray:
    """Crop with the 68 iBUG points (eyes and inner lips larger) | NMFC; (tile, 2·tile, 3) uint8."""
    image = resized(crop, tile)
    scale = tile / crop.shape[1]
    for index, (x, y) in enumerate(ibug68[:, :2] * scale):
        big = index in CONTOUR_POINTS
        cv2.circle(image, (int(x), int(y)), 1 if big else 0, (255, 0, 0) if big else (0, 255, 0), -1)
    return np.concatenate([label(image, text), resized(nmfc, tile)], axis=1)


def expression_strip(
    crop_stores: list[Path],
    landmark_stores: list[Path],
    fit_stores: list[Path],
    nmfc_stores: list[Path],
    *,
    n_frames: int = 8,
    per_row: int = 4,
    tile: int = 128,
) -> np.ndarray:
    """The split's ``n_frames`` worst frames by expression error, ``per_row`` pairs per row.

    The stores of each stage are paired by file name (``{shard}.zarr``); each pair is labelled with
    the error (a fraction of the eye distance), the clip id and the frame.

    Returns
    -------
    np.ndarray
        RGB image ``(rows·tile, per_row·2·tile, 3)`` uint8; a black tile with a note when no frame
        has an expression error.
    """
    by_name = {
        name: {Path(p).name: Path(p) for p in stores}
        for name, stores in (("crops", crop_stores), ("landmarks", landmark_stores), ("nmfc", nmfc_stores))
    }
    pairs = []
    for error, fit_store, clip_id, t in worst_frames(fit_stores, n_frames):
        groups = {
            name: zarr.open_group(str(stores[fit_store.name]), mode="r")[clip_id] for name, stores in by_name.items()
        }
        pairs.append(
            _pair(
                groups["crops"]["frames"][t],
                groups["landmarks"]["ibug68"][t],
                groups["nmfc"]["nmfc"][t],
                tile,
                f"{error:.3f} {clip_id[:14]} t={t}",
            )
        )
    if not pairs:
        return stack([], tile)
    pairs += [np.zeros_like(pairs[0])] * (-len(pairs) % per_row)
    rows = [np.concatenate(pairs[i : i + per_row], axis=1) for i in range(0, len(pairs), per_row)]
    return stack(rows, tile)
