"""The morphable model container: validation, shapes (Eq. 1), selection, HDF5 round trip."""

import numpy as np
import pytest

from headgan_prep.morphable.model import MorphableModel, MorphableModelError


def random_model(n_vertices=50, n_id=6, n_exp=4, seed=0) -> MorphableModel:
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(3 * n_vertices, n_id + n_exp)))
    return MorphableModel(
        mean=rng.normal(size=(n_vertices, 3)),
        id_basis=basis[:, :n_id],
        exp_basis=basis[:, n_id:],
        triangles=rng.integers(0, n_vertices, size=(30, 3)),
        fit_index=np.arange(0, n_vertices, 2),
        name="random",
        source="test",
    )


def test_shapes_follow_equation_1_and_broadcast():
    model = random_model()
    rng = np.random.default_rng(1)
    p_id, p_exp = rng.normal(size=model.n_id), rng.normal(size=(5, model.n_exp))
    shapes = model.shapes(p_id, p_exp)
    assert shapes.shape == (5, model.n_vertices, 3) and shapes.dtype == np.float32
    for t in range(5):
        flat = model.mean.ravel() + model.id_basis @ p_id + model.exp_basis @ p_exp[t]
        np.testing.assert_allclose(shapes[t], flat.reshape(-1, 3), atol=1e-5)
    with pytest.raises(MorphableModelError, match="expected 6 identity and 4 expression"):
        model.shapes(p_id[:3], p_exp)


def test_select_takes_xyz_rows_of_the_vertices():
    model = random_model()
    mean, id_rows, exp_rows = model.select([3, 7])
    np.testing.assert_array_equal(mean, model.mean[[3, 7]])
    np.testing.assert_array_equal(id_rows, model.id_basis[[9, 10, 11, 21, 22, 23]])
    np.testing.assert_array_equal(exp_rows, model.exp_basis[[9, 10, 11, 21, 22, 23]])
    offsets = (id_rows @ np.ones(model.n_id)).reshape(2, 3)
    np.testing.assert_allclose(mean + offsets, model.shapes(np.ones(model.n_id), np.zeros(model.n_exp))[[3, 7]],
                               atol=1e-5)


def test_hdf5_round_trip_is_exact_and_deterministic(tmp_path):
    model = random_model()
    model.save(tmp_path / "a.h5")
    model.save(tmp_path / "b.h5")
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()
    loaded = MorphableModel.load(tmp_path / "a.h5")
    for key in ("mean", "id_basis", "exp_basis", "triangles", "fit_index"):
        np.testing.assert_array_equal(getattr(loaded, key), getattr(model, key))
    assert (loaded.name, loaded.source) == ("random", "test")
    assert "50 vertices" in loaded.describe() and "6 identity and 4 expression" in loaded.describe()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"mean": np.zeros((50, 2))}, "mean must be"),
        ({"id_basis": np.ones((150, 6))}, "not orthonormal"),
        ({"exp_basis": np.zeros((120, 4))}, "exp_basis must be"),
        ({"triangles": np.array([[0, 1, 50]])}, "outside"),
        ({"fit_index": np.array([-1])}, "outside"),
        ({"mean": np.full((50, 3), np.nan)}, "NaN"),
    ],
)
def test_bad_arrays_are_refused(change, message):
    model = random_model()
    arrays = {k: getattr(model, k) for k in ("mean", "id_basis", "exp_basis", "triangles", "fit_index")}
    with pytest.raises(MorphableModelError, match=message):
        MorphableModel(**{**arrays, **change})


def test_bad_files_are_refused(tmp_path):
    with pytest.raises(MorphableModelError, match="does not exist"):
        MorphableModel.load(tmp_path / "none.h5")
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(MorphableModelError, match="not an HDF5 file"):
        MorphableModel.load(tmp_path / "text.h5")
    import h5py

    with h5py.File(tmp_path / "partial.h5", "w") as f:
        f["mean"] = np.zeros((3, 3))
    with pytest.raises(MorphableModelError, match="missing id_basis"):
        MorphableModel.load(tmp_path / "partial.h5")
