"""Converters from published 3D morphable models into :class:`~headgan_prep.morphable.model.MorphableModel`.

Formats (``--format`` of ``headgan-prep convert-3dmm``):

``lsfm``
    LSFM as released (``all_all_all.mat`` and the other demographic models, menpo/lsfm): keys
    ``mean`` (3N,), ``components`` (3N, K) unit eigenvectors, ``eigenvalues``, ``trilist`` (F, 3)
    0-based. This is an identity model only; the expression basis comes from ``expression``. Also
    the version HeadGAN's code reads (``preprocessing/files/all_all_all.mat``): a struct ``fmod``
    with ``mean`` (3N,), ``id_basis`` (3N, 157), ``exp_basis`` (3N, n_exp), ``faces`` (F, 3,
    1-based as MATLAB writes them; 0-based when the smallest index is 0) and ``IDlands`` (unused);
    its expression basis is inside, so ``expression`` must not be given.
``bfm2009``
    Basel Face Model 2009 ``01_MorphableModel.mat``: ``shapeMU`` (3N, 1), ``shapePC`` (3N, 199),
    ``shapeEV``, ``tl`` (F, 3) 1-based. Identity only; lengths in micrometres. The expression basis
    comes from ``expression``.
``bfm2017``
    Basel Face Model 2017 and 2019 ``.h5`` (statismo layout): ``/shape/model/mean`` (3N,),
    ``/shape/model/pcaBasis`` (3N, K), ``/shape/representer/cells`` (3, F) 0-based and the same
    under ``/expression/model``. The model mean is the shape mean plus the expression mean, as the
    expression model is a deformation of the shape model's mean.

``expression`` files (``.mat`` v5 or v7.3): the basis under ``exp_basis``, ``components`` or
``w_exp`` (3N, n_exp), on the same vertices; a mean stored with it is not used. (HeadGAN's
``lsfm_exp_30.dat`` is a menpo-serialised object and is not read here; the basis HeadGAN's code
fits is the ``fmod`` struct's ``exp_basis``.)

MATLAB files are read in both layouts users have: v5 (``scipy.io.loadmat``) and v7.3 (HDF5,
``h5py``; MATLAB writes arrays there transposed, so every array is transposed back and structs are
groups). Vectors lose their singleton dimension; rows of every basis are xyz-interleaved
(``x0, y0, z0, x1, …``), as in all three formats. Lengths stay in the file's unit.

Bases whose columns are not orthonormal (within
:data:`~headgan_prep.morphable.model.ORTHONORMAL_TOLERANCE`) are orthonormalised by a QR
decomposition that keeps each column's direction as far as possible: the span of the first k
columns is unchanged for every k, columns already orthogonal are only rescaled, and linearly
dependent columns are dropped. When the expression basis is not orthogonal to the identity basis,
its identity part is projected out before that (Gram–Schmidt against the identity basis): the
space of shapes the two bases span together is unchanged, but an expression parameter then no
longer moves the face along identity directions. The ``source`` text of the converted model says
what was done.

The correspondence file (``--correspondence``) gives ``fit_index``: the model vertex matched to
each point of the landmark regressor, 0-based, in the regressor's order. Accepted: ``.npy``; text
(integers separated by white space or commas); ``.pkl`` holding an integer array, a list, or a dict
with the array under ``idxs`` (HeadGAN's ``sampler1035ver.pkl``: 1035 LSFM vertices for the
1035 dense points of insightface's ``1k3d68``). Pickles are read with an unpickler that only
builds NumPy arrays, lists and dicts.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import ClassVar

import h5py
import numpy as np
import scipy.io

from headgan_prep.morphable.model import (
    ORTHONORMAL_TOLERANCE,
    MorphableModel,
    MorphableModelError,
)

FORMATS = ("lsfm", "bfm2009", "bfm2017")
EXPRESSION_KEYS = ("exp_basis", "components", "w_exp")
DEPENDENT_COLUMN = 1e-6
"""A QR column whose |R_kk| is below this fraction of the largest is linearly dependent and dropped."""


def convert(format: str, path: Path, correspondence: Path, expression: Path | None = None) -> MorphableModel:
    """Convert a published model file (module docstring) into a :class:`MorphableModel`.

    Parameters
    ----------
    format : str
        One of :data:`FORMATS`.
    path : Path
        The model file.
    correspondence : Path
        The correspondence file (``fit_index``).
    expression : Path or None
        The expression model (``lsfm`` without ``fmod`` and ``bfm2009``: required).

    Raises
    ------
    MorphableModelError
        A file is missing, of another kind, or lacks what the format needs; the message names the
        file and what was expected.
    """
    loaders = {"lsfm": load_lsfm, "bfm2009": load_bfm2009, "bfm2017": load_bfm2017}
    if format not in loaders:
        raise MorphableModelError(f"unknown morphable model format {format!r}; expected one of {', '.join(FORMATS)}")
    return loaders[format](Path(path), Path(correspondence), Path(expression) if expression else None)


def load_lsfm(path: Path, correspondence: Path, expression: Path | None = None) -> MorphableModel:
    """LSFM ``.mat`` (plain release or HeadGAN's ``fmod`` struct) → :class:`MorphableModel`."""
    fields = read_mat(path)
    if "fmod" in fields:
        if expression is not None:
            raise MorphableModelError(f"{path} holds HeadGAN's fmod with its own exp_basis: give no expression file")
        fmod = fields["fmod"]
        if not isinstance(fmod, dict):
            raise MorphableModelError(f"{path}: fmod is not a MATLAB struct")
        mean = _mean(_field(fmod, ("mean",), path, "mean shape"), path)
        faces = _field(fmod, ("faces",), path, "triangles")
        base = 0 if np.min(faces) == 0 else 1
        return _assemble(
            name="LSFM",
            description=f"LSFM (HeadGAN fmod) {path.name}",
            mean=mean,
            id_basis=_basis(_field(fmod, ("id_basis",), path, "identity basis"), mean, path, "fmod.id_basis"),
            exp_basis=_basis(_field(fmod, ("exp_basis",), path, "expression basis"), mean, path, "fmod.exp_basis"),
            triangles=_triangles(faces, len(mean), base, path, "fmod.faces"),
            correspondence=correspondence,
        )
    mean = _mean(_field(fields, ("mean",), path, "mean shape (LSFM: mean, components, trilist)"), path)
    id_basis = _basis(_field(fields, ("components", "shape_components"), path, "identity components"), mean, path, "components")
    triangles = _triangles(_field(fields, ("trilist",), path, "triangle list"), len(mean), 0, path, "trilist")
    return _assemble(
        name="LSFM",
        description=f"LSFM {path.name}",
        mean=mean,
        id_basis=id_basis,
        exp_basis=_expression_basis(expression, mean, path),
        triangles=triangles,
        correspondence=correspondence,
    )


def load_bfm2009(path: Path, correspondence: Path, expression: Path | None = None) -> MorphableModel:
    """Basel Face Model 2009 ``01_MorphableModel.mat`` → :class:`MorphableModel` (micrometres)."""
    fields = read_mat(path)
    mean = _mean(_field(fields, ("shapeMU",), path, "mean shape (BFM 2009: shapeMU, shapePC, tl)"), path)
    return _assemble(
        name="BFM 2009",
        description=f"Basel Face Model 2009 {path.name} (micrometres)",
        mean=mean,
        id_basis=_basis(_field(fields, ("shapePC",), path, "shape components"), mean, path, "shapePC"),
        exp_basis=_expression_basis(expression, mean, path),
        triangles=_triangles(_field(fields, ("tl",), path, "triangle list"), len(mean), 1, path, "tl"),
        correspondence=correspondence,
    )


def load_bfm2017(path: Path, correspondence: Path, expression: Path | None = None) -> MorphableModel:
    """Basel Face Model 2017/2019 ``.h5`` → :class:`MorphableModel`."""
    if expression is not None:
        raise MorphableModelError(f"{path}: the BFM 2017/2019 file holds its expression model; give no expression file")
    if not h5py.is_hdf5(path):
        raise MorphableModelError(f"{path}: not an HDF5 file (expected a Basel Face Model 2017/2019 .h5)")
    keys = ("shape/model/mean", "shape/model/pcaBasis", "shape/representer/cells", "expression/model/mean",
            "expression/model/pcaBasis")
    with h5py.File(path, "r") as f:
        missing = [key for key in keys if key not in f]
        if missing:
            raise MorphableModelError(
                f"{path}: not a Basel Face Model 2017/2019 file: missing {', '.join('/' + k for k in missing)}"
            )
        values = {key: np.asarray(f[key][()]) for key in keys}
    shape_mean = _mean(values["shape/model/mean"], path)
    expression_mean = _mean(values["expression/model/mean"], path)
    if expression_mean.shape != shape_mean.shape:
        raise MorphableModelError(
            f"{path}: /expression/model/mean has {len(expression_mean)} vertices, /shape/model/mean {len(shape_mean)}"
        )
    mean = shape_mean + expression_mean
    return _assemble(
        name="BFM 2017",
        description=f"Basel Face Model 2017/2019 {path.name} (shape mean + expression mean)",
        mean=mean,
        id_basis=_basis(values["shape/model/pcaBasis"], mean, path, "/shape/model/pcaBasis"),
        exp_basis=_basis(values["expression/model/pcaBasis"], mean, path, "/expression/model/pcaBasis"),
        triangles=_triangles(values["shape/representer/cells"], len(mean), 0, path, "/shape/representer/cells"),
        correspondence=correspondence,
    )


def read_mat(path: Path) -> dict:
    """Variables of a MATLAB ``.mat`` file (v5 or v7.3) as a dict.

    Structs become dicts; arrays have MATLAB's shape with singleton dimensions removed (v7.3
    arrays are transposed back); text becomes ``str``; cell arrays are left out.
    """
    path = Path(path)
    if not path.is_file():
        raise MorphableModelError(f"{path} does not exist")
    if h5py.is_hdf5(path):
        with h5py.File(path, "r") as f:
            return _read_group(f)
    try:
        fields = scipy.io.loadmat(path, simplify_cells=True)
    except (ValueError, TypeError, NotImplementedError, OSError, scipy.io.matlab.MatReadError) as error:
        raise MorphableModelError(f"{path}: not a MATLAB .mat file ({error})") from None
    return {key: value for key, value in fields.items() if not key.startswith("__")}


def _read_group(group: h5py.Group) -> dict:
    fields = {}
    for key, item in group.items():
        if key.startswith("#"):
            continue
        if isinstance(item, h5py.Group):
            fields[key] = _read_group(item)
            continue
        if item.dtype.kind == "O":
            continue
        value = np.asarray(item[()]).T
        if item.attrs.get("MATLAB_class") in (b"char", "char"):
            fields[key] = "".join(map(chr, value.ravel()))
        else:
            fields[key] = np.squeeze(value)
    return fields


def read_correspondence(path: Path) -> np.ndarray:
    """The vertex indices of a correspondence file (module docstring): ``(M,)`` int64, 0-based."""
    path = Path(path)
    if not path.is_file():
        raise MorphableModelError(f"correspondence file {path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            value = np.load(path, allow_pickle=False)
        elif suffix == ".pkl":
            value = _ArrayUnpickler(io.BytesIO(path.read_bytes()), encoding="latin1").load()
        else:
            value = np.array(path.read_text().replace(",", " ").split(), dtype=np.float64)
    except (ValueError, OSError, UnicodeDecodeError, pickle.UnpicklingError, EOFError) as error:
        raise MorphableModelError(f"{path}: not a correspondence file of vertex indices ({error})") from None
    if isinstance(value, dict):
        if "idxs" not in value:
            raise MorphableModelError(f"{path}: the pickled dict has no 'idxs' (keys: {', '.join(sorted(map(str, value)))})")
        value = value["idxs"]
    value = np.asarray(value)
    if value.ndim != 1 or len(value) == 0 or value.dtype.kind not in "iuf" or not np.all(value == np.round(value)):
        raise MorphableModelError(f"{path}: expected a non-empty list of integer vertex indices, got {value.dtype} {value.shape}")
    return value.astype(np.int64)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that builds only NumPy arrays (and plain containers): nothing else is imported."""

    ALLOWED: ClassVar[frozenset] = frozenset({
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    })

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a pickle")
        return super().find_class(module, name)


def orthonormal_basis(basis: np.ndarray) -> tuple[np.ndarray, str]:
    """Orthonormal columns spanning the same nested subspaces (module docstring).

    Parameters
    ----------
    basis : np.ndarray
        ``(D, K)``.

    Returns
    -------
    basis : np.ndarray
        ``(D, K')`` float64, K' ≤ K; the input itself when already orthonormal.
    note : str
        What was done (empty when nothing).
    """
    basis = np.asarray(basis, np.float64)
    gram = basis.T @ basis
    if np.abs(gram - np.eye(basis.shape[1])).max(initial=0.0) <= ORTHONORMAL_TOLERANCE:
        return basis, ""
    q, r = np.linalg.qr(basis)
    diagonal = np.diag(r)
    keep = np.abs(diagonal) > DEPENDENT_COLUMN * np.abs(diagonal).max(initial=0.0)
    q = q[:, keep] * np.sign(diagonal[keep])
    dropped = int((~keep).sum())
    return q, "orthonormalised (QR)" + (f", {dropped} dependent column(s) dropped" if dropped else "")


def separate_expression(id_basis: np.ndarray, exp_basis: np.ndarray) -> tuple[np.ndarray, str]:
    """The expression basis made orthogonal to the (orthonormal) identity basis, only if it is not.

    Returns
    -------
    exp_basis : np.ndarray
        ``(D, n_exp')`` orthonormal, ``id_basisᵀ · exp_basis = 0``.
    note : str
        What was done (empty when nothing).
    """
    overlap = np.abs(id_basis.T @ exp_basis).max(initial=0.0)
    if overlap <= ORTHONORMAL_TOLERANCE:
        return exp_basis, ""
    projected = exp_basis - id_basis @ (id_basis.T @ exp_basis)
    exp_basis, note = orthonormal_basis(projected)
    return exp_basis, f"identity part projected out (largest |U_idᵀ U_exp| was {overlap:.2g}); {note}"


def _assemble(name, description, mean, id_basis, exp_basis, triangles, correspondence) -> MorphableModel:
    notes = []
    id_basis, note = orthonormal_basis(id_basis)
    notes += [f"identity basis {note}"] if note else []
    exp_basis, note = orthonormal_basis(exp_basis)
    notes += [f"expression basis {note}"] if note else []
    exp_basis, note = separate_expression(id_basis, exp_basis)
    notes += [f"expression basis {note}"] if note else []
    fit_index = read_correspondence(correspondence)
    if fit_index.min() < 0 or fit_index.max() >= len(mean):
        raise MorphableModelError(
            f"{correspondence}: indices {fit_index.min()}..{fit_index.max()} do not fit the {len(mean)} "
            f"vertices of the model (0-based indices expected)"
        )
    source = "; ".join([f"{description}, correspondence {Path(correspondence).name}", *notes])
    return MorphableModel(mean, id_basis, exp_basis, triangles, fit_index, name=name, source=source)


def _field(fields: dict, keys: tuple[str, ...], path: Path, what: str) -> np.ndarray:
    for key in keys:
        if key in fields:
            return np.asarray(fields[key])
    raise MorphableModelError(
        f"{path}: no {what}: expected the key {' or '.join(keys)}; the file has {', '.join(sorted(fields)) or 'nothing'}"
    )


def _mean(value: np.ndarray, path: Path) -> np.ndarray:
    value = np.asarray(value, np.float64)
    if value.ndim == 2 and value.shape[1] == 3:
        return value
    if value.ndim != 1 or len(value) % 3:
        raise MorphableModelError(f"{path}: the mean shape must be (3N,) xyz-interleaved or (N, 3), got {value.shape}")
    return value.reshape(-1, 3)


def _basis(value: np.ndarray, mean: np.ndarray, path: Path, key: str) -> np.ndarray:
    rows = 3 * len(mean)
    value = np.asarray(value, np.float64)
    if value.ndim == 1 and len(value) == rows:
        value = value[:, None]
    if value.ndim != 2 or value.shape[0] != rows:
        raise MorphableModelError(f"{path}: {key} must be ({rows}, K) for the {len(mean)} vertices of the mean, got {value.shape}")
    return value


def _expression_basis(expression: Path | None, mean: np.ndarray, model_path: Path) -> np.ndarray:
    if expression is None:
        raise MorphableModelError(f"{model_path} is an identity model only: give the expression model file too")
    fields = read_mat(expression)
    basis = _field(fields, EXPRESSION_KEYS, expression, "expression basis")
    return _basis(basis, mean, expression, "the expression basis")


def _triangles(value: np.ndarray, n_vertices: int, base: int, path: Path, key: str) -> np.ndarray:
    triangles = np.asarray(value)
    if triangles.ndim == 2 and triangles.shape[0] == 3 and triangles.shape[1] != 3:
        triangles = triangles.T
    if triangles.ndim != 2 or triangles.shape[1] != 3 or triangles.dtype.kind not in "iuf":
        raise MorphableModelError(f"{path}: {key} must be an (F, 3) array of vertex indices, got {triangles.shape}")
    if not np.all(triangles == np.round(triangles)):
        raise MorphableModelError(f"{path}: {key} holds non-integer vertex indices")
    triangles = triangles.astype(np.int64) - base
    if triangles.min() < 0 or triangles.max() >= n_vertices:
        raise MorphableModelError(
            f"{path}: {key} indexes vertices {triangles.min() + base}..{triangles.max() + base}; "
            f"expected {base}-based indices of {n_vertices} vertices"
        )
    return triangles
