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
3. **Expression first.** The deviations of every frame from its own clip's mean shape are what
   changes while one person is filmed: mouth opening, lip shapes, blinks, brows (and what pose
   the alignment leaves). Their principal components are the expression basis (``n_exp``, 28 by
   default as in HeadGAN's expression model; at most the numerical rank).
4. **Identity apart from expression.** Each clip mean, with its part in the expression subspace
   (about the mean of all clip means) removed, is an expression-compensated shape; the clips of
   one identity (the landmark group's ``identity`` attribute, from the manifest; the clip id when
   it has none) are averaged into one shape per identity, the model mean is the mean of these,
   and the identity basis the principal components of their deviations from it (``n_id``, at most
   the number of identities − 1 and the numerical rank). The identity basis therefore lies in the
   orthogonal complement of the expression basis: both are orthonormal and ``U_idᵀ U_exp = 0``.
   Why this order: learning identity first from clip means (as before) made every difference of
   the clips' *average* expressions (a smiling clip beside a neutral one, a talking clip) an
   identity direction and projected it out of the expression basis; the fit's per-clip identity
   (the mean over its frames) then froze those deformations for the whole clip, and the NMFC lost
   up to half of the mouth opening on real faces. Identity differences that lie in the expression
   subspace (a wider mouth) are carried by the expression parameters instead, which follow the
   landmarks frame by frame.
5. **Triangles.** For the 468 FaceMesh points: MediaPipe's tessellation of its canonical face mesh
   (852 triangles, read from ``mediapipe/face_mesh_connections.py`` of the mediapipe wheel, see
   :func:`facemesh_triangles`); for other point sets (insightface's 1103 points): the Delaunay
   triangulation of the mean's frontal (x, y) projection. Triangles are oriented counter-clockwise
   seen from the front. ``fit_index`` is ``arange(M)``: the model's vertices are the regressor's
   points.

Memory and passes. The stores are read clip by clip (:class:`LandmarkClips`), never all at once:
``procrustes_iterations`` passes for the alignment's references and one more that aligns each clip
and adds it to sufficient statistics (the within-clip scatter matrix, one mean shape per identity;
:mod:`headgan_prep.morphable.subspaces`). Memory is therefore a few ``(3M)²`` float64 matrices plus
``3M`` floats per identity (about 80 MB + 11 KB per identity for FaceMesh), whatever the number of
clips; time is linear in the frames used (``frames_per_clip`` per clip) times the passes. A training
split of more than ``max_clips`` clips (20,000 by default) is sampled by a hash of the clip ids, which
bounds the time too: 20,000 clips of 50 frames, 6 passes, take about 9 minutes at 1,900 frames/s.

Limits. The expression basis also holds the pose residue the similarity alignment leaves (the
regressor's depth is less reliable than x and y). The bases are as good as the data's variety: with
fewer clips than ``min_clips`` or fewer identities than ``n_id`` + 1, a warning with the counts goes
to the log and into the model file (``warnings``). A useful model needs thousands of clips of many
people talking (e.g. VoxCeleb's training split); LSFM (:mod:`headgan_prep.morphable.convert`) is
HeadGAN's choice.
"""

from __future__ import annotations

import ast
import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import zarr
from scipy.spatial import Delaunay

from headgan_prep.models.registry import resolve_model
from headgan_prep.morphable.model import MorphableModel
from headgan_prep.morphable.subspaces import LearnError, LearnedShapes, learn_subspaces
from headgan_prep.settings import StageSettings
from headgan_prep.store.layout import stage

LANDMARKS_SCHEMA = stage("landmarks").schema

FACEMESH_POINTS = 468
FACEMESH_TESSELLATION_FILE = "mediapipe/face_mesh_connections.py"
"""Model file (relative to the models folder) holding MediaPipe's FaceMesh tessellation."""
MODEL_AXES = np.array([1.0, -1.0, -1.0])
"""Factors taking crop-pixel axes (x right, y down, z away from the viewer) to model axes."""
SOURCES = ("learned", "file")

log = logging.getLogger(__name__)


class MorphableModelConfigError(ValueError):
    """The ``morphable_model`` configuration is invalid."""


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
        Valid frames used per clip, evenly spaced (memory does not depend on it, time is linear in
        it: :mod:`headgan_prep.morphable.subspaces`).
    min_clips : int
        Fewer clips give a warning (log and model file), as do fewer identities than ``n_id`` + 1.
    max_clips : int
        Clips learned from at most: a larger training split is sampled by a hash of the clip ids
        (:func:`sampled_clip`), so that the sample is the same whatever the store order and the
        time is bounded (VoxCeleb2's 1.1 M clips: about 20,000 clips of nearly every identity).
    """

    section: ClassVar[str] = "morphable_model"
    error: ClassVar[type[ValueError]] = MorphableModelConfigError

    source: str = "learned"
    file: str | None = None
    n_id: int = 80
    n_exp: int = 28
    procrustes_iterations: int = 5
    frames_per_clip: int = 50
    min_clips: int = 100
    max_clips: int = 20_000

    def __post_init__(self):
        if self.source not in SOURCES:
            raise MorphableModelConfigError(f"morphable_model.source must be one of {SOURCES}, got {self.source!r}")
        if self.source == "file" and not self.file:
            raise MorphableModelConfigError("morphable_model.file must name a model file when source is 'file'")
        for name in ("n_id", "n_exp", "procrustes_iterations", "frames_per_clip", "min_clips", "max_clips"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise MorphableModelConfigError(f"morphable_model.{name} must be an integer ≥ 1, got {value!r}")


CLIP_CACHE_BYTES = 256 * 2**20
"""Clips' points kept in memory between the learning passes, at most (bytes)."""


@dataclass
class LandmarkClips:
    """The clips of landmark stores, read afresh on every iteration (one pass over the stores).

    Iterating gives per clip with a valid frame ``(identity, shapes)``: its group's ``identity``
    attribute (the clip id where there is none) and ``(T, M, 3)`` float64 points of up to
    ``frames_per_clip`` evenly spaced valid frames, axes flipped to the model's
    (:data:`MODEL_AXES`), crop pixels; stores in the given order, clips sorted within a store.
    The clips read are kept for the next passes while they take less than ``cache_bytes`` in all
    (the demo and other small training splits are read once); beyond that, one clip's arrays are in
    memory at a time.

    Attributes
    ----------
    stores : tuple of Path
        Landmark stores (schema ``headgan.landmarks/1``).
    frames_per_clip : int
    fraction : float
        Share of the clips read (:func:`sampled_clip`); 1 reads all.
    cache_bytes : int
        Largest size of the clips' points kept between passes (read-only arrays); 0 keeps none.
    """

    stores: tuple[Path, ...]
    frames_per_clip: int
    fraction: float = 1.0
    cache_bytes: int = 0
    _kept: list | None = field(default=None, init=False, repr=False, compare=False)
    _keep: bool = field(default=True, init=False, repr=False, compare=False)

    @classmethod
    def at_most(cls, stores: tuple[Path, ...], frames_per_clip: int, max_clips: int) -> "LandmarkClips":
        """The clips of ``stores``, sampled to about ``max_clips`` when they hold more (one listing pass),
        kept between passes up to :data:`CLIP_CACHE_BYTES`."""
        n_clips = sum(len(list(_open_landmarks(store).group_keys())) for store in stores)
        fraction = min(1.0, max_clips / n_clips) if n_clips else 1.0
        return cls(stores, frames_per_clip, fraction, CLIP_CACHE_BYTES)

    def __iter__(self) -> Iterator[tuple[str, np.ndarray]]:
        if self._kept is not None:
            yield from self._kept
            return
        kept, size = ([] if self._keep else None), 0
        for identity, points in self._read():
            size += points.nbytes
            if kept is not None and size > self.cache_bytes:
                kept = None  # too large to keep: every pass reads the stores
            if kept is not None:
                points.flags.writeable = False
                kept.append((identity, points))
            yield identity, points
        # a whole pass read (a partial one stops at the yield above): keep its clips, or never try again
        self._kept, self._keep = kept, kept is not None

    def _read(self) -> Iterator[tuple[str, np.ndarray]]:
        first = None
        for store in self.stores:
            root = _open_landmarks(store)
            for clip_id in sorted(root.group_keys()):
                if not sampled_clip(clip_id, self.fraction):
                    continue
                group = root[clip_id]
                valid = np.flatnonzero(np.asarray(group["valid"][:], bool))
                if len(valid) == 0:
                    continue
                count = min(self.frames_per_clip, len(valid))
                frames = np.unique(valid[np.round(np.linspace(0, len(valid) - 1, count)).astype(int)])
                points = np.asarray(group["points"][:][frames], np.float64)
                if first is None:
                    first = (clip_id, points.shape[1])
                elif points.shape[1] != first[1]:
                    raise LearnError(
                        f"{store}: clip {clip_id} has {points.shape[1]} points per frame, "
                        f"{first[0]} has {first[1]}: the stores mix landmark backends"
                    )
                yield str(group.attrs.get("identity", clip_id)), points * MODEL_AXES


def _open_landmarks(store: Path) -> zarr.Group:
    root = zarr.open_group(str(store), mode="r")
    if root.attrs.get("schema") != LANDMARKS_SCHEMA:
        raise LearnError(f"{store}: not a landmark store (schema {root.attrs.get('schema')!r}, expected {LANDMARKS_SCHEMA})")
    return root


def sampled_clip(clip_id: str, fraction: float) -> bool:
    """Whether a clip is in a ``fraction`` sample of the clips: the first 8 bytes of its id's SHA-1,
    as a number in [0, 1), below ``fraction`` (every clip when ``fraction`` ≥ 1)."""
    if fraction >= 1.0:
        return True
    return int.from_bytes(hashlib.sha1(clip_id.encode("utf-8")).digest()[:8], "big") / 2.0**64 < fraction


def learn_morphable_model(
    clip_shapes: list[np.ndarray],
    cfg: MorphableModelConfig,
    triangles_file: Path | None = None,
    source: str = "",
    identities: Sequence[str] | None = None,
) -> MorphableModel:
    """Learn the model from per-clip shapes in memory (steps 2–5 of the module docstring).

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
    identities : sequence of str or None
        Identity of each clip; None: every clip its own.

    Returns
    -------
    MorphableModel
        As :func:`build_model` makes it.
    """
    identities = [str(i) for i in range(len(clip_shapes))] if identities is None else [str(i) for i in identities]
    if len(identities) != len(clip_shapes):
        raise LearnError(f"{len(identities)} identities given for {len(clip_shapes)} clips")
    clips = list(zip(identities, (np.asarray(shapes, np.float64) for shapes in clip_shapes)))
    shapes = learn_subspaces(clips, cfg.n_id, cfg.n_exp, cfg.procrustes_iterations)
    return build_model(shapes, cfg, triangles_file, source)


def build_model(shapes: LearnedShapes, cfg: MorphableModelConfig, triangles_file: Path | None, source: str) -> MorphableModel:
    """The morphable model of learned shapes: triangles (step 5), warnings, ``fit_index``.

    Parameters
    ----------
    shapes : LearnedShapes
    cfg : MorphableModelConfig
    triangles_file : Path or None
        As for :func:`learn_morphable_model`.
    source : str

    Returns
    -------
    MorphableModel
        ``name`` ``"learned"``; ``n_id``, ``n_exp`` possibly below the configured numbers;
        ``warnings`` when the data is short of clips or identities (:func:`data_warnings`).
    """
    mean = shapes.mean
    n_vertices = len(mean)
    if n_vertices == FACEMESH_POINTS:
        if triangles_file is None:
            raise LearnError(f"the 468 FaceMesh points need MediaPipe's tessellation ({FACEMESH_TESSELLATION_FILE})")
        triangles = facemesh_triangles(triangles_file)
    else:
        triangles = delaunay_triangles(mean)
    warnings = data_warnings(shapes.n_clips, shapes.n_identities, shapes.n_frames, cfg)
    for warning in warnings:
        log.warning(warning)
    return MorphableModel(
        mean=mean,
        id_basis=shapes.id_basis,
        exp_basis=shapes.exp_basis,
        triangles=orient_front(triangles, mean),
        fit_index=np.arange(n_vertices),
        name="learned",
        source=source,
        warnings=tuple(warnings),
    )


def data_warnings(n_clips: int, n_identities: int, n_frames: int, cfg: MorphableModelConfig) -> list[str]:
    """Warnings about data too small for the configured model (module docstring, Limits).

    Returns
    -------
    list of str
        One sentence each, with the counts: fewer than ``cfg.min_clips`` clips; fewer identities
        than ``cfg.n_id`` + 1 (the identity basis is cut to identities − 1 components).
    """
    counts = f"{n_clips} clips of {n_identities} identities ({n_frames} frames)"
    warnings = []
    if n_clips < cfg.min_clips:
        warnings.append(
            f"learned 3DMM from only {counts}, fewer than min_clips={cfg.min_clips}: its bases hold "
            "little of real faces' variety"
        )
    if n_identities < cfg.n_id + 1:
        warnings.append(
            f"learned 3DMM from only {counts}: {max(n_identities - 1, 0)} identity components of n_id={cfg.n_id}"
        )
    return warnings


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
    clips = LandmarkClips.at_most(tuple(Path(store) for store in stores), cfg.frames_per_clip, cfg.max_clips)
    first = next(iter(clips), None)
    triangles_file = None
    if first is not None and first[1].shape[1] == FACEMESH_POINTS:
        if models_dir is None:
            raise LearnError(f"FaceMesh points need the models folder with {FACEMESH_TESSELLATION_FILE}")
        triangles_file = resolve_model(models_dir, FACEMESH_TESSELLATION_FILE)
    shapes = learn_subspaces(clips, cfg.n_id, cfg.n_exp, cfg.procrustes_iterations)
    source = (
        f"learned from {shapes.n_clips} clips of {shapes.n_identities} identities ({shapes.n_frames} frames) of "
        f"{len(stores)} landmark stores; expression from within-clip deviations, identity from "
        f"expression-compensated identity means; n_id {cfg.n_id}, n_exp {cfg.n_exp}, "
        f"procrustes_iterations {cfg.procrustes_iterations}, frames_per_clip {cfg.frames_per_clip}, "
        f"max_clips {cfg.max_clips}; "
        "unit: crop pixels"
    )
    return build_model(shapes, cfg, triangles_file, source)
