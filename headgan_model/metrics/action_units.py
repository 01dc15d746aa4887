"""AU-H: Hamming distance between OpenFace 2.x action-unit presence vectors (supplement §5).

OpenFace's ``FeatureExtraction`` (Baltrušaitis et al. 2018; AU models of Baltrušaitis et al. 2015)
runs as an external program on the driving and on the generated frames, each written as a folder
of PNG images and read as one sequence (``-fdir``, ``-aus``). Its CSV holds, per frame, the
presence (``AUxx_c``, 0 or 1) of 18 action units. AU-H is, per frame, the fraction of the 18 units
whose presence differs between the driving and the generated frame, averaged over the frames both
runs tracked (``success`` 1), so it lies in [0, 1].

OpenFace is not a Python package: give the path of its ``FeatureExtraction`` binary (or have it on
``PATH``). Without it the metric is reported missing with the reason, never as 0.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from headgan_model.metrics.result import MetricResult

ACTION_UNITS = (
    "01", "02", "04", "05", "06", "07", "09", "10", "12", "14", "15", "17", "20", "23", "25", "26", "28", "45"
)  # fmt: skip
"""The 18 action units whose presence OpenFace 2.x predicts (columns ``AU01_c`` … ``AU45_c``)."""
PRESENCE_COLUMNS = tuple(f"AU{unit}_c" for unit in ACTION_UNITS)
BINARY_NAME = "FeatureExtraction"


@dataclass(frozen=True)
class ActionUnits:
    """Per-frame OpenFace output.

    Attributes
    ----------
    frame : np.ndarray
        (T,) int64, OpenFace's 1-based frame numbers.
    success : np.ndarray
        (T,) bool, the face was tracked on that frame.
    confidence : np.ndarray
        (T,) float32 tracking confidence in [0, 1].
    presence : np.ndarray
        (T, 18) bool, columns in :data:`ACTION_UNITS` order.
    """

    frame: np.ndarray
    success: np.ndarray
    confidence: np.ndarray
    presence: np.ndarray


def read_openface_csv(path: str | Path) -> ActionUnits:
    """Parse a ``FeatureExtraction`` CSV (its column names carry a leading space).

    Raises
    ------
    ValueError
        A needed column (``frame``, ``success``, ``confidence``, the 18 ``AUxx_c``) is absent.
    """
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ValueError(f"{path} is empty, not an OpenFace CSV")
    header = [name.strip() for name in rows[0]]
    needed = ("frame", "success", "confidence", *PRESENCE_COLUMNS)
    absent = [name for name in needed if name not in header]
    if absent:
        raise ValueError(f"{path} lacks the OpenFace columns {absent} (was FeatureExtraction run with -aus?)")
    values = np.array([[float(row[header.index(name)]) for name in needed] for row in rows[1:] if row], np.float64)
    values = values.reshape(-1, len(needed))
    return ActionUnits(
        frame=values[:, 0].astype(np.int64),
        success=values[:, 1] > 0.5,
        confidence=values[:, 2].astype(np.float32),
        presence=values[:, 3:] > 0.5,
    )


def find_binary(binary: str | Path | None = None) -> Path | None:
    """The ``FeatureExtraction`` program: ``binary`` if it is an executable file, else the one on ``PATH``."""
    if binary is not None:
        path = Path(binary)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    found = shutil.which(BINARY_NAME)
    return Path(found) if found else None


def run_openface(frames: np.ndarray, binary: str | Path, timeout_s: float | None = None) -> ActionUnits:
    """Action units of (T, H, W, 3) uint8 RGB frames, one ``FeatureExtraction -fdir … -aus`` run.

    Raises
    ------
    RuntimeError
        The program failed or its CSV does not have one row per frame.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected (T, H, W, 3) uint8 RGB frames, got {frames.shape} {frames.dtype}")
    with tempfile.TemporaryDirectory(prefix="openface-") as tmp:
        images, out = Path(tmp) / "frames", Path(tmp) / "out"
        images.mkdir()
        for i, frame in enumerate(frames):
            cv2.imwrite(str(images / f"{i + 1:06d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        command = [str(binary), "-fdir", str(images), "-out_dir", str(out), "-of", "aus", "-aus"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        if result.returncode != 0:
            raise RuntimeError(f"`{' '.join(command)}` exited with {result.returncode}: {result.stderr.strip()[-500:]}")
        units = read_openface_csv(out / "aus.csv")
    if len(units.frame) != len(frames):
        raise RuntimeError(f"OpenFace gave {len(units.frame)} rows for {len(frames)} frames")
    return units


def au_hamming(driving: ActionUnits, generated: ActionUnits) -> MetricResult:
    """AU-H of two OpenFace outputs of equally many frames (module docstring).

    Returns
    -------
    MetricResult
        ``AU-H`` in [0, 1]; missing when no frame is tracked in both; a warning counts the frames
        left out. ``details``: ``frames`` used and per unit the fraction of differing frames
        (``AU01`` … ``AU45``).
    """
    if driving.presence.shape != generated.presence.shape:
        raise ValueError(
            f"AU-H: {len(driving.frame)} driving and {len(generated.frame)} generated frames differ in number"
        )
    both = driving.success & generated.success
    if not both.any():
        reason = f"OpenFace tracked no face in both videos on any of the {len(both)} frames"
        return MetricResult.unavailable("AU-H", reason)
    differs = driving.presence[both] != generated.presence[both]
    left_out = int((~both).sum())
    warnings = (f"AU-H: {left_out} of {len(both)} frames without a tracked face left out",) if left_out else ()
    details = {"frames": float(both.sum())} | {f"AU{u}": float(d) for u, d in zip(ACTION_UNITS, differs.mean(axis=0))}
    return MetricResult("AU-H", float(differs.mean()), warnings, details=details)


def au_h(driving_frames: np.ndarray, generated_frames: np.ndarray, binary: str | Path | None = None) -> MetricResult:
    """AU-H of generated frames against the driving frames, running OpenFace on both.

    Parameters
    ----------
    driving_frames, generated_frames : np.ndarray
        (T, H, W, 3) uint8 RGB, the same T.
    binary : str, Path or None
        OpenFace's ``FeatureExtraction``; None looks it up on ``PATH``.

    Returns
    -------
    MetricResult
        As :func:`au_hamming`; missing with the reason when the program is not found or fails.
    """
    if len(driving_frames) != len(generated_frames):
        raise ValueError(f"AU-H: {len(driving_frames)} driving and {len(generated_frames)} generated frames")
    program = find_binary(binary)
    if program is None:
        where = f"at {binary}" if binary is not None else f"on PATH ({BINARY_NAME})"
        return MetricResult.unavailable(
            "AU-H", f"OpenFace 2.x FeatureExtraction not found {where}: build OpenFace and give the binary's path"
        )
    try:
        driving = run_openface(driving_frames, program)
        generated = run_openface(generated_frames, program)
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as error:
        return MetricResult.unavailable("AU-H", f"OpenFace failed: {error}")
    return au_hamming(driving, generated)
