"""Expression and pose editing of one source frame (paper §4.4, Fig. 7).

From the source's fit at its middle frame, each grid row moves one thing: expression component k
(k < ``components``) by ``amounts`` standard deviations of that component over the test split's
fitted frames, or the head's yaw, pitch or roll by ``angles`` degrees (:func:`turned_camera`). Each
cell is rendered as an NMFC image and generated as a still (its NMFC window is itself repeated)
with the source frame as reference, by the audio-free generator or with silent-audio features
(:func:`headgan_model.apps.frontalise.audio_free_animator`).

Written into ``results/apps/{run}/edit/`` (each file atomically)::

    grid.png     one row per edit: the source frame, then the generated cells
    nmfc.png     the same grid of NMFC images
    edits.tsv    row, column, what moved, by how much (σ or degrees), audio
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from headgan_model.apps.clips import Clip, split_clips
from headgan_model.apps.frontalise import audio_free_animator, task_audio
from headgan_model.apps.settings import AppsConfigError, AppsSettings
from headgan_model.apps.tables import write_tsv
from headgan_prep.dataset.reader import DatasetReader
from headgan_prep.fit.camera import FRONTAL_ROTATION, head_rotation
from headgan_prep.fit.parameters import FaceParameters
from headgan_prep.fit.rotation import euler_to_matrix, matrix_to_euler, matrix_to_quaternion
from headgan_prep.morphable.model import MorphableModel
from headgan_prep.preview import label, resized, write_png
from headgan_prep.render.renderer import NMFCRenderer, RenderConfig

TILE = 128
"""Side of a grid cell, pixels."""
POSE_AXES = {"yaw": 1, "pitch": 0, "roll": 2}
"""Grid rows of the pose edits and their column in ``[pitch, yaw, roll]``."""
COLUMNS = ("row", "column", "edit", "amount", "unit", "audio")


def turned_camera(camera: np.ndarray, degrees: np.ndarray) -> np.ndarray:
    """Cameras whose head Euler angles ``[pitch, yaw, roll]`` are those of ``camera`` plus ``degrees``
    (scale and translation kept).

    Parameters
    ----------
    camera : np.ndarray
        ``(T, 7)``.
    degrees : np.ndarray
        ``(T, 3)`` or ``(3,)``.

    Returns
    -------
    np.ndarray
        ``(T, 7)`` float32.
    """
    camera = np.array(camera, np.float64)
    angles = matrix_to_euler(head_rotation(camera)) + np.asarray(degrees, np.float64)
    camera[:, 1:5] = matrix_to_quaternion(FRONTAL_ROTATION @ euler_to_matrix(angles))
    return camera.astype(np.float32)


def expression_spread(clips: list[Clip]) -> np.ndarray:
    """``(n_exp,)`` standard deviation of each expression component over the clips' valid fitted frames."""
    expressions = np.concatenate([c.parameters.expression[c.fit_valid] for c in clips])
    return expressions.std(axis=0)


def edit_cells(source: FaceParameters, spread: np.ndarray, settings: AppsSettings) -> tuple[FaceParameters, list[dict]]:
    """The parameters of every grid cell, row by row, and their description.

    Parameters
    ----------
    source : FaceParameters
        One frame (T = 1).
    spread : np.ndarray
        ``(n_exp,)`` per-component standard deviations.
    settings : AppsSettings

    Returns
    -------
    cells : FaceParameters
        ``(rows · columns)`` frames.
    described : list of dict
        Per cell: row, column, edit, amount, unit.
    """
    options = settings.edit
    n_exp = source.expression.shape[1]
    if options.components > n_exp:
        raise AppsConfigError(f"apps.edit.components is {options.components}; the model has {n_exp} expression components")
    expressions, cameras, described = [], [], []
    for k in range(options.components):
        for column, amount in enumerate(options.amounts):
            expression = source.expression[0].copy()
            expression[k] += amount * spread[k]
            expressions.append(expression)
            cameras.append(source.camera[0])
            described.append({"row": k, "column": column, "edit": f"expression {k}", "amount": amount, "unit": "sd"})
    for row, (axis, index) in enumerate(POSE_AXES.items(), start=options.components):
        for column, angle in enumerate(options.angles):
            degrees = np.zeros(3)
            degrees[index] = angle
            expressions.append(source.expression[0])
            cameras.append(turned_camera(source.camera, degrees)[0])
            described.append({"row": row, "column": column, "edit": axis, "amount": angle, "unit": "degrees"})
    return FaceParameters(source.identity, np.stack(expressions), np.stack(cameras)), described


def grid(source_frame: np.ndarray, cells: np.ndarray, described: list[dict]) -> np.ndarray:
    """Rows of ``[source | cells of the row]``, each tile :data:`TILE` pixels and labelled."""
    rows = []
    for row in sorted({d["row"] for d in described}):
        members = [i for i, d in enumerate(described) if d["row"] == row]
        first = described[members[0]]
        tiles = [label(resized(source_frame, TILE), first["edit"])]
        for i in members:
            unit = "sd" if described[i]["unit"] == "sd" else "deg"
            tiles.append(label(resized(cells[i], TILE), f"{described[i]['amount']:+g} {unit}"))
        rows.append(np.concatenate(tiles, axis=1))
    width = max(r.shape[1] for r in rows)
    return np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows])


def edit_source(
    index_path: Path,
    model_path: Path,
    generator_path: Path,
    out_dir: Path,
    settings: AppsSettings,
    render: RenderConfig = RenderConfig(),
) -> list[dict]:
    """Write the editing grid of the configured source (module docstring); returns the rows of ``edits.tsv``."""
    clips = split_clips(DatasetReader(index_path))
    by_id = {c.clip_id: c for c in clips}
    if not clips or (settings.edit.source is not None and settings.edit.source not in by_id):
        raise AppsConfigError(f"apps.edit.source {settings.edit.source!r} is not a clip of {index_path}")
    source = by_id[settings.edit.source] if settings.edit.source is not None else clips[0]
    frame = source.n_frames // 2
    fit = source.parameters
    frame_fit = FaceParameters(fit.identity, fit.expression[frame : frame + 1], fit.camera[frame : frame + 1])
    cells, described = edit_cells(frame_fit, expression_spread(clips), settings)
    renderer = NMFCRenderer(MorphableModel.load(model_path), size=source.frames.shape[1], batch=render.batch, colouring=render.colouring)
    nmfc = renderer.render_parameters(cells)
    animator, audio_note = audio_free_animator(settings, generator_path)
    generated = animator.animate(source.frames[frame], source.nmfc[frame], nmfc, task_audio(animator, len(nmfc)), stills=True)
    rows = [{**d, "audio": audio_note} for d in described]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_png(grid(source.frames[frame], generated, described), out_dir / "grid.png")
    write_png(grid(source.nmfc[frame], nmfc, described), out_dir / "nmfc.png")
    write_tsv(out_dir / "edits.tsv", rows, COLUMNS)
    return rows
