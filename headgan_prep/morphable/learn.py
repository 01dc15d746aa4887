"""A 3D morphable model learned from the landmark stores: the default for users without LSFM.

HeadGAN fits LSFM (built from about 10,000 3D face scans) to the regressor's points. Without it, a
linear model of the same form (:mod:`headgan_prep.morphable.model`) is learned here from the dense
3D points of the training split's clips (``results/landmarks/{shard}.zarr``, valid frames only):

1. **Axes.** Landmark points are crop pixels (x right, y down, z negative towards the camera);
   the model's axes are x right, y up, z towards the viewer: ``(x, −y, −z)`` (a rotation by 180°
   about x, as HeadGAN's code does with the regressor's points before fitting).
2. **Alignment.** Up to ``frames_per_clip`` evenly spaced valid frames per clip are aligned to
   their common mean by similarity transforms (:func:`headgan_prep.morphable.procrustes.generalized_procrustes`,
   ``procrustes_iterations`` rounds, no reflections), removing head pose, position and size.
   Length unit: the aligned shapes are scaled to the mean RMS radius of the input frames, so the
   model is in crop pixels of an average-sized face.
3. **Mean and identity.** Each clip's mean aligned shape stands for its identity; the model mean
   is the mean of these clip means, and the identity basis the principal components of the clip
   means (``n_id``, at most the number of clips − 1 and the numerical rank).
4. **Expression.** The deviations of each frame from its clip's mean, with their identity-subspace
   part projected out, give the expression basis as their principal components (``n_exp``, 28 by
   default as in HeadGAN's expression model; at most the numerical rank). Both bases are therefore
   orthonormal and ``U_idᵀ U_exp = 0``.
5. **Triangles.** For the 468 FaceMesh points: MediaPipe's tessellation of its canonical face mesh
   (852 triangles, read from ``mediapipe/face_mesh_connections.py`` of the mediapipe wheel, see
   :func:`facemesh_triangles`); for other point sets (insightface's 1103 points): the Delaunay
   triangulation of the mean's frontal (x, y) projection. Triangles are oriented counter-clockwise
   seen from the front. ``fit_index`` is ``arange(M)``: the model's vertices are the regressor's
   points.

Limits. A clip mean mixes identity with the clip's average expression and any pose the alignment
leaves (the regressor's depth is less reliable than x and y); clips of one person count as separate
identities. The bases are as good as the data's variety: the bundled demo has a handful of
identities and almost no expression, so its learned bases mostly capture landmark noise and
head-pose residue. A useful model needs thousands of clips of many people talking (e.g. VoxCeleb's
training split); LSFM (:mod:`headgan_prep.morphable.convert`) is HeadGAN's choice.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import zarr
from scipy.spatial import Delaunay

from headgan_prep.models.registry import resolve_model
from headgan_prep.morphable.model import MorphableModel
from headgan_prep.morphable.procrustes import generalized_procrustes, rms_radius
from headgan_prep.settings import StageSettings
from headgan_prep.store.layout import stage

LANDMARKS_SCHEMA = stage("landmarks").schema

FACEMESH_POINTS = 468
FACEMESH_TESSELLATION_FILE = "mediapipe/face_mesh_connections.py"
"""Model file (relative to the models folder) holding MediaPipe's FaceMesh tessellation."""
MODEL_AXES = np.array([1.0, -1.0, -1.0])
"""Factors taking crop-pixel axes (x right, y down, z away from the viewer) to model axes."""
RANK_TOLERANCE = 1e-9
"""Principal components with variance below this fraction of the largest are numerically zero."""
SOURCES = ("learned", "file")


class MorphableModelConfigError(ValueError):
    """The ``morphable_model`` configuration is invalid."""


class LearnError(ValueError):
    """The landmark stores cannot give a morphable model (too few clips, mixed point sets, …)."""


@dataclass(frozen=True)
class MorphableModelConfig(StageSettings):
    """The ``morphable_model:`` section of the workflow configuration.

    Attributes
    ----------
    source : str
        ``"learned"``: learn the model from the training split's landmarks (this module,
        ``results/3dmm/learned.h5``); ``"file"``: use ``file``.
    file : str or None
        Morphable model file (``headgan-prep convert-3dmm`` output) when ``source`` is ``"file"``.
    n_id : int
        Identity components to learn (fewer when the data has fewer: module docstring).
    n_exp : int
        Expression components to learn (likewise).
    procrustes_iterations : int
        Align-and-average rounds of the alignment.
    frames_per_clip : int
        Valid frames used per clip, evenly spaced; bounds memory at about clips × frames_per_clip ×
        M × 24 bytes.
    """

    section: ClassVar[str] = "morphable_model"
    error: ClassVar[type[ValueError]] = MorphableModelConfigError

    source: str = "learned"
    file: str | None = None
    n_id: int = 80
    n_exp: int = 28
    procrustes_iterations: int = 5
    frames_per_clip: int = 50

    def __post_init__(self):
        if self.source not in SOURCES:
            raise MorphableModelConfigError(f"morphable_model.source must be one of {SOURCES}, got {self.source!r}")
        if self.source == "file" and not self.file:
            raise MorphableModelConfigError("morphable_model.file must name a model file when source is 'file'")
        for name in ("n_id", "n_exp", "procrustes_iterations", "frames_per_clip"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise MorphableModelConfigError(f"morphable_model.{name} must be an integer ≥ 1, got {value!r}")


def read_clip_shapes(stores: list[Path], frames_per_clip: int) -> tuple[list[np.ndarray], list[str]]:
    """Valid frames of every clip of the landmark stores, in model axes.

    Parameters
    ----------
    stores : list of Path
        Landmark stores (schema ``headgan.landmarks/1``).
    frames_per_clip : int
        At most this many valid frames per clip, evenly spaced over the clip's valid frames.

    Returns
    -------
    shapes : list of np.ndarray
        Per clip with a valid frame, ``(T_i, M, 3)`` float64 points with axes flipped to the
        model's (:data:`MODEL_AXES`), crop pixels.
    clip_ids : list of str
        Their clip ids, stores in the given order and clips sorted within a store.
    """
    shapes, clip_ids = [], []
    for store in stores:
        root = zarr.open_group(str(store), mode="r")
        if root.attrs.get("schema") != LANDMARKS_SCHEMA:
            raise LearnError(f"{store}: not a landmark store (schema {root.attrs.get('schema')!r}, expected {LANDMARKS_SCHEMA})")
        for clip_id in sorted(root.group_keys()):
            valid = np.flatnonzero(np.asarray(root[clip_id]["valid"][:], bool))
            if len(valid) == 0:
                continue
            frames = np.unique(valid[np.round(np.linspace(0, len(valid) - 1, min(frames_per_clip, len(valid)))).astype(int)])
            points = np.asarray(root[clip_id]["points"][:], np.float64)[frames]
            if shapes and points.shape[1] != shapes[0].shape[1]:
                raise LearnError(
                    f"{store}: clip {clip_id} has {points.shape[1]} points per frame, "
                    f"{clip_ids[0]} has {shapes[0].shape[1]}: the stores mix landmark backends"
                )
            shapes.append(points * MODEL_AXES)
            clip_ids.append(clip_id)
    return shapes, clip_ids


def learn_morphable_model(
    clip_shapes: list[np.ndarray], cfg: MorphableModelConfig, triangles_file: Path | None = None, source: str = ""
) -> MorphableModel:
    """Learn the model from per-clip shapes (steps 2–5 of the module docstring).

    Parameters
    ----------
    clip_shapes : list of np.ndarray
        Per clip ``(T_i, M, 3)`` shapes in model axes; at least two clips and one clip with two
        frames.
    cfg : MorphableModelConfig
    triangles_file : Path or None
        MediaPipe's ``face_mesh_connections.py`` (:data:`FACEMESH_TESSELLATION_FILE`), required when
        M is 468; other M use a Delaunay triangulation.
    source : str
        Free text stored as the model's ``source``.

    Returns
    -------
    MorphableModel
        ``name`` ``"learned"``; ``n_id``, ``n_exp`` possibly below the configured numbers.
    """
    if len(clip_shapes) < 2:
        raise LearnError(f"learning a morphable model needs at least 2 clips with valid frames, got {len(clip_shapes)}")
    lengths = [len(shapes) for shapes in clip_shapes]
    stacked = np.concatenate(clip_shapes)
    aligned, _ = generalized_procrustes(stacked, cfg.procrustes_iterations)
    aligned *= rms_radius(stacked).mean()
    n_vertices = stacked.shape[1]
    aligned = aligned.reshape(len(stacked), 3 * n_vertices)
    clips = np.split(aligned, np.cumsum(lengths)[:-1])
    clip_means = np.stack([frames.mean(axis=0) for frames in clips])
    mean = clip_means.mean(axis=0)
    id_basis = principal_components(clip_means - mean, min(cfg.n_id, len(clips) - 1))
    deviations = np.concatenate([frames - frames.mean(axis=0) for frames in clips])
    deviations -= (deviations @ id_basis) @ id_basis.T
    exp_basis = principal_components(deviations, cfg.n_exp)
    if exp_basis.shape[1] == 0:
        raise LearnError("the clips' frames do not vary: no expression component can be learned")
    mean = mean.reshape(n_vertices, 3)
    if n_vertices == FACEMESH_POINTS:
        if triangles_file is None:
            raise LearnError(f"the 468 FaceMesh points need MediaPipe's tessellation ({FACEMESH_TESSELLATION_FILE})")
        triangles = facemesh_triangles(triangles_file)
    else:
        triangles = delaunay_triangles(mean)
    return MorphableModel(
        mean=mean,
        id_basis=id_basis,
        exp_basis=exp_basis,
        triangles=orient_front(triangles, mean),
        fit_index=np.arange(n_vertices),
        name="learned",
        source=source,
    )


def principal_components(rows: np.ndarray, n_max: int) -> np.ndarray:
    """Orthonormal principal directions of the (already centred) rows, largest variance first.

    Parameters
    ----------
    rows : np.ndarray
        ``(K, D)`` centred samples.
    n_max : int
        Most components returned; fewer when the rows have a smaller numerical rank
        (:data:`RANK_TOLERANCE`).

    Returns
    -------
    np.ndarray
        ``(D, n)`` float64 columns; each column's entry of largest magnitude is positive, so the
        result does not depend on the eigensolver's sign choices.
    """
    rows = np.asarray(rows, np.float64)
    variances, vectors = np.linalg.eigh(rows.T @ rows)
    order = np.argsort(variances)[::-1]
    variances, vectors = variances[order], vectors[:, order]
    rank = int((variances > RANK_TOLERANCE * variances[0]).sum()) if variances[0] > 0 else 0
    vectors = vectors[:, : min(n_max, rank)]
    largest = vectors[np.abs(vectors).argmax(axis=0), np.arange(vectors.shape[1])]
    return vectors * np.where(largest < 0, -1.0, 1.0)


def facemesh_triangles(path: Path) -> np.ndarray:
    """MediaPipe's FaceMesh triangles from its ``face_mesh_connections.py``.

    The file's ``FACEMESH_TESSELATION`` literal lists the 852 triangles of the canonical face mesh
    as three directed edges each (``(a, b), (b, c), (c, a)``); the file is parsed, never run.

    Parameters
    ----------
    path : Path
        ``mediapipe/python/solutions/face_mesh_connections.py`` of the mediapipe wheel.

    Returns
    -------
    np.ndarray
        ``(852, 3)`` int32 vertex indices of the 468 FaceMesh points.
    """
    path = Path(path)
    edges = None
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "FACEMESH_TESSELATION" for t in node.targets):
            value = node.value
            if isinstance(value, ast.Call) and value.args:
                value = value.args[0]
            edges = np.asarray(ast.literal_eval(value), np.int64)
    if edges is None or edges.ndim != 2 or edges.shape[1] != 2 or len(edges) % 3:
        raise LearnError(f"{path}: no FACEMESH_TESSELATION list of directed triangle edges")
    edges = edges.reshape(-1, 3, 2)
    chained = (edges[:, 0, 1] == edges[:, 1, 0]) & (edges[:, 1, 1] == edges[:, 2, 0]) & (edges[:, 2, 1] == edges[:, 0, 0])
    if not chained.all() or edges.max() >= FACEMESH_POINTS:
        raise LearnError(f"{path}: FACEMESH_TESSELATION is not a list of triangles of the {FACEMESH_POINTS} points")
    return edges[:, :, 0].astype(np.int32)


def delaunay_triangles(mean: np.ndarray) -> np.ndarray:
    """Delaunay triangulation of the frontal (x, y) projection of a shape.

    Parameters
    ----------
    mean : np.ndarray
        ``(N, 3)`` vertices in model axes (x right, y up, z towards the viewer).

    Returns
    -------
    np.ndarray
        ``(F, 3)`` int32, counter-clockwise in (x, y); points that coincide in (x, y) with another
        are left out of the triangulation. It covers the convex hull, so it bridges concave parts
        of the outline.
    """
    triangulation = Delaunay(np.asarray(mean, np.float64)[:, :2])
    return orient_front(triangulation.simplices.astype(np.int32), mean)


def orient_front(triangles: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Triangles reordered to be counter-clockwise in the frontal (x, y) projection.

    A mesh whose triangles are consistently oriented (MediaPipe's) is flipped as a whole when most
    of its projected area is clockwise; otherwise each triangle is oriented on its own.

    Parameters
    ----------
    triangles : np.ndarray
        ``(F, 3)`` vertex indices.
    vertices : np.ndarray
        ``(N, 3)`` vertices, y up.

    Returns
    -------
    np.ndarray
        ``(F, 3)`` int32.
    """
    triangles = np.asarray(triangles, np.int32)
    a, b, c = (np.asarray(vertices, np.float64)[triangles[:, i], :2] for i in range(3))
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    if _consistently_oriented(triangles):
        return triangles[:, ::-1].copy() if area.sum() < 0 else triangles
    return np.where((area < 0)[:, None], triangles[:, ::-1], triangles)


def _consistently_oriented(triangles: np.ndarray) -> bool:
    """Whether no directed edge appears twice (neighbouring triangles agree on orientation)."""
    directed = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    return len(np.unique(directed, axis=0)) == len(directed)


def learn_from_stores(stores: list[Path], cfg: MorphableModelConfig, models_dir: Path | None = None) -> MorphableModel:
    """Read the landmark stores and learn the model (module docstring).

    Parameters
    ----------
    stores : list of Path
        The training split's landmark stores.
    cfg : MorphableModelConfig
    models_dir : Path or None
        Models folder holding :data:`FACEMESH_TESSELLATION_FILE` (needed for FaceMesh points).

    Returns
    -------
    MorphableModel
    """
    clip_shapes, clip_ids = read_clip_shapes(stores, cfg.frames_per_clip)
    triangles_file = None
    if clip_shapes and clip_shapes[0].shape[1] == FACEMESH_POINTS:
        if models_dir is None:
            raise LearnError(f"FaceMesh points need the models folder with {FACEMESH_TESSELLATION_FILE}")
        triangles_file = resolve_model(models_dir, FACEMESH_TESSELLATION_FILE)
    n_frames = sum(len(shapes) for shapes in clip_shapes)
    source = (
        f"learned from {len(clip_ids)} clips ({n_frames} frames) of {len(stores)} landmark stores; "
        f"n_id {cfg.n_id}, n_exp {cfg.n_exp}, procrustes_iterations {cfg.procrustes_iterations}, "
        f"frames_per_clip {cfg.frames_per_clip}; unit: crop pixels"
    )
    return learn_morphable_model(clip_shapes, cfg, triangles_file, source)
