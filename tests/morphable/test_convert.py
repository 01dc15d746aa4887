"""Converters of LSFM (.mat v5 and v7.3) and the Basel Face Models, on files written in their formats here."""

import pickle

import h5py
import numpy as np
import pytest
import scipy.io
from scipy.linalg import subspace_angles
from scipy.spatial import Delaunay

from headgan_prep.cli import main
from headgan_prep.morphable.model import MorphableModel, MorphableModelError
from headgan_prep.morphable.convert import (
    convert,
    orthonormal_basis,
    read_correspondence,
    read_mat,
    separate_expression,
)

N_VERTICES, N_ID, N_EXP = 40, 5, 3


@pytest.fixture(scope="module")
def truth():
    """A model's arrays: mean (N, 3), orthonormal id (3N, 5) ⟂ exp (3N, 3), 0-based triangles."""
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(3 * N_VERTICES, N_ID + N_EXP)))
    mean = rng.normal(size=(N_VERTICES, 3)) * [60.0, 80.0, 30.0]
    return {
        "mean": mean,
        "id": basis[:, :N_ID],
        "exp": basis[:, N_ID:],
        "triangles": Delaunay(mean[:, :2]).simplices.astype(np.int64),
        "fit_index": np.array([3, 1, 4, 1, 5, 9, 2, 6]),
    }


def write_v73(path, variables: dict) -> None:
    """A MATLAB v7.3 file: HDF5 with a 512-byte header block, arrays transposed, structs as groups."""

    def put(group, name, value):
        if isinstance(value, dict):
            sub = group.create_group(name)
            sub.attrs["MATLAB_class"] = np.bytes_("struct")
            for key, item in value.items():
                put(sub, key, item)
            return
        value = np.asarray(value)
        if value.ndim == 1:
            value = value[:, None]  # MATLAB has no 1-D arrays: a column vector
        dataset = group.create_dataset(name, data=value.T)
        dataset.attrs["MATLAB_class"] = np.bytes_("double" if value.dtype.kind == "f" else "int32")

    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in variables.items():
            put(f, name, value)
    with open(path, "r+b") as f:
        f.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .")


def assert_same_model(model: MorphableModel, truth, id_basis, exp_basis, mean=None):
    np.testing.assert_allclose(model.mean, truth["mean"] if mean is None else mean, rtol=1e-6, atol=1e-4)
    np.testing.assert_array_equal(model.triangles, truth["triangles"])
    np.testing.assert_array_equal(model.fit_index, truth["fit_index"])
    for basis, expected in ((model.id_basis, id_basis), (model.exp_basis, exp_basis)):
        assert basis.shape == expected.shape
        np.testing.assert_allclose(basis.T.astype(np.float64) @ basis, np.eye(basis.shape[1]), atol=1e-5)
        assert np.degrees(subspace_angles(basis, expected)).max() < 1e-3
        # each column keeps its direction (orthogonal columns are only rescaled)
        np.testing.assert_allclose(np.abs(np.sum(basis * expected, axis=0)), 1.0, atol=1e-5)
    np.testing.assert_allclose(model.id_basis.T @ model.exp_basis, 0.0, atol=1e-5)


def test_lsfm_release_v5_with_expression_and_text_correspondence(tmp_path, truth):
    eigenvalues = np.linspace(900.0, 100.0, N_ID)
    scipy.io.savemat(
        tmp_path / "all_all_all.mat",
        {
            "mean": truth["mean"].ravel(),
            # scaled columns: orthogonal but not unit length
            "components": truth["id"] * np.sqrt(eigenvalues),
            "eigenvalues": eigenvalues,
            "trilist": truth["triangles"].astype(np.int32),
            "n_training_samples": 9663,
        },
    )
    scipy.io.savemat(tmp_path / "expression.mat", {"components": truth["exp"]})
    (tmp_path / "idxs.txt").write_text("\n".join(map(str, truth["fit_index"])) + "\n")
    model = convert("lsfm", tmp_path / "all_all_all.mat", tmp_path / "idxs.txt", tmp_path / "expression.mat")
    assert_same_model(model, truth, truth["id"], truth["exp"])
    assert model.name == "LSFM" and "identity basis orthonormalised" in model.source


def test_headgan_fmod_v73_with_pickled_sampler(tmp_path, truth):
    rng = np.random.default_rng(1)
    leaking = truth["exp"] + truth["id"] @ rng.normal(size=(N_ID, N_EXP)) * 0.3  # not ⟂ identity
    write_v73(
        tmp_path / "all_all_all.mat",
        {
            "fmod": {
                "mean": truth["mean"].ravel(),
                "id_basis": truth["id"],
                "exp_basis": leaking,
                "faces": truth["triangles"] + 1.0,
                "IDlands": np.arange(1, 69),
            }
        },
    )
    with open(tmp_path / "sampler1035ver.pkl", "wb") as f:
        pickle.dump({"idxs": truth["fit_index"]}, f, protocol=2)
    model = convert("lsfm", tmp_path / "all_all_all.mat", tmp_path / "sampler1035ver.pkl")
    assert_same_model(model, truth, truth["id"], truth["exp"])
    both = np.concatenate([truth["id"], leaking], axis=1)
    assert np.degrees(subspace_angles(np.concatenate([model.id_basis, model.exp_basis], axis=1), both)).max() < 1e-3
    assert "identity part projected out" in model.source
    with pytest.raises(MorphableModelError, match="give no expression file"):
        convert("lsfm", tmp_path / "all_all_all.mat", tmp_path / "sampler1035ver.pkl", tmp_path / "all_all_all.mat")


def test_v73_reader_transposes_back_and_reads_structs(tmp_path):
    write_v73(tmp_path / "m.mat", {"a": np.arange(6.0).reshape(2, 3), "s": {"v": np.arange(4.0)}})
    fields = read_mat(tmp_path / "m.mat")
    np.testing.assert_array_equal(fields["a"], np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(fields["s"]["v"], np.arange(4.0))


def test_bfm2009_one_based_triangles_and_npy_correspondence(tmp_path, truth):
    scipy.io.savemat(
        tmp_path / "01_MorphableModel.mat",
        {
            "shapeMU": truth["mean"].reshape(-1, 1) * 1000.0,
            "shapePC": truth["id"],
            "shapeEV": np.linspace(5.0, 1.0, N_ID)[:, None],
            "tl": (truth["triangles"] + 1).astype(np.float64),
        },
    )
    scipy.io.savemat(tmp_path / "Model_Expression.mat", {"w_exp": truth["exp"], "mu_exp": np.ones(3 * N_VERTICES)})
    np.save(tmp_path / "fit.npy", truth["fit_index"])
    model = convert("bfm2009", tmp_path / "01_MorphableModel.mat", tmp_path / "fit.npy", tmp_path / "Model_Expression.mat")
    assert_same_model(model, truth, truth["id"], truth["exp"], mean=truth["mean"] * 1000.0)
    assert model.source.startswith("Basel Face Model 2009")


def test_bfm2017_h5_adds_the_expression_mean(tmp_path, truth):
    offset = np.full(3 * N_VERTICES, 0.5)
    with h5py.File(tmp_path / "model2017-1_bfm_nomouth.h5", "w") as f:
        f["shape/model/mean"] = truth["mean"].ravel().astype(np.float32)
        f["shape/model/pcaBasis"] = truth["id"].astype(np.float32)
        f["shape/model/pcaVariance"] = np.linspace(5.0, 1.0, N_ID)
        f["shape/representer/cells"] = truth["triangles"].T.astype(np.uint32)
        f["shape/representer/points"] = truth["mean"].T
        f["expression/model/mean"] = offset.astype(np.float32)
        f["expression/model/pcaBasis"] = truth["exp"].astype(np.float32)
    (tmp_path / "fit.txt").write_text(", ".join(map(str, truth["fit_index"])))
    model = convert("bfm2017", tmp_path / "model2017-1_bfm_nomouth.h5", tmp_path / "fit.txt")
    assert_same_model(model, truth, truth["id"], truth["exp"], mean=truth["mean"] + 0.5)


def test_cli_converts_and_writes_a_loadable_model(tmp_path, truth):
    with h5py.File(tmp_path / "bfm.h5", "w") as f:
        f["shape/model/mean"] = truth["mean"].ravel()
        f["shape/model/pcaBasis"] = truth["id"]
        f["shape/representer/cells"] = truth["triangles"].T
        f["expression/model/mean"] = np.zeros(3 * N_VERTICES)
        f["expression/model/pcaBasis"] = truth["exp"]
    np.save(tmp_path / "fit.npy", truth["fit_index"])
    args = ["-q", "convert-3dmm", "--format", "bfm2017", "--input", str(tmp_path / "bfm.h5")]
    assert main([*args, "--correspondence", str(tmp_path / "fit.npy"), "--out", str(tmp_path / "model.h5")]) == 0
    model = MorphableModel.load(tmp_path / "model.h5")
    assert (model.n_vertices, model.n_id, model.n_exp) == (N_VERTICES, N_ID, N_EXP)
    assert main([*args, "--correspondence", str(tmp_path / "bfm.h5"), "--out", str(tmp_path / "bad.h5")]) == 1
    assert not (tmp_path / "bad.h5").exists()


def test_orthonormal_basis_keeps_nested_spans_and_drops_dependent_columns():
    rng = np.random.default_rng(2)
    basis = rng.normal(size=(30, 4))
    basis = np.concatenate([basis, basis[:, :2] @ [[1.0], [2.0]]], axis=1)  # 5th column dependent
    q, note = orthonormal_basis(basis)
    assert q.shape == (30, 4) and "1 dependent column(s) dropped" in note
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-12)
    for k in range(1, 5):
        assert subspace_angles(q[:, :k], basis[:, :k]).max() < 1e-9
    unchanged, note = orthonormal_basis(q)
    assert note == "" and np.array_equal(unchanged, q)


def test_expression_is_changed_only_when_not_orthogonal(truth):
    exp, note = separate_expression(truth["id"], truth["exp"])
    assert note == "" and np.array_equal(exp, truth["exp"])
    exp, note = separate_expression(truth["id"], np.linalg.qr(truth["exp"] + 0.1 * truth["id"][:, :3])[0])
    np.testing.assert_allclose(truth["id"].T @ exp, 0.0, atol=1e-12)
    assert "projected out" in note


def test_wrong_files_are_clear_errors(tmp_path, truth):
    scipy.io.savemat(tmp_path / "other.mat", {"vertices": truth["mean"]})
    (tmp_path / "notes.txt").write_text("not a model")
    np.save(tmp_path / "fit.npy", truth["fit_index"])
    scipy.io.savemat(
        tmp_path / "lsfm.mat",
        {"mean": truth["mean"].ravel(), "components": truth["id"], "trilist": truth["triangles"] + N_VERTICES},
    )
    scipy.io.savemat(tmp_path / "exp.mat", {"components": truth["exp"]})
    with h5py.File(tmp_path / "partial.h5", "w") as f:
        f["shape/model/mean"] = truth["mean"].ravel()
    cases = [
        (("lsfm", "notes.txt", "fit.npy"), r"notes.txt: not a MATLAB \.mat file"),
        (("lsfm", "other.mat", "fit.npy"), r"other.mat: no mean shape .*expected the key mean; the file has vertices"),
        (("bfm2009", "other.mat", "fit.npy"), r"other.mat: no mean shape \(BFM 2009: shapeMU"),
        (("bfm2017", "other.mat", "fit.npy"), r"other.mat: not an HDF5 file"),
        (("bfm2017", "partial.h5", "fit.npy"), r"partial.h5: not a Basel .* missing /shape/model/pcaBasis"),
        (("lsfm", "lsfm.mat", "fit.npy", "exp.mat"), r"lsfm.mat: trilist indexes vertices 40\.\.79; expected 0-based"),
        (("lsfm", "missing.mat", "fit.npy"), r"missing.mat does not exist"),
        (("nope", "other.mat", "fit.npy"), r"unknown morphable model format 'nope'"),
    ]
    for arguments, message in cases:
        paths = [tmp_path / name for name in arguments[1:]]
        with pytest.raises(MorphableModelError, match=message):
            convert(arguments[0], *paths)
    scipy.io.savemat(
        tmp_path / "lsfm.mat", {"mean": truth["mean"].ravel(), "components": truth["id"], "trilist": truth["triangles"]}
    )
    with pytest.raises(MorphableModelError, match="lsfm.mat is an identity model only: give the expression model"):
        convert("lsfm", tmp_path / "lsfm.mat", tmp_path / "fit.npy")
    scipy.io.savemat(tmp_path / "short_exp.mat", {"components": truth["exp"][:30]})
    with pytest.raises(MorphableModelError, match=r"short_exp.mat: the expression basis must be \(120, K\)"):
        convert("lsfm", tmp_path / "lsfm.mat", tmp_path / "fit.npy", tmp_path / "short_exp.mat")
    np.save(tmp_path / "far.npy", np.array([0, 400]))
    with pytest.raises(MorphableModelError, match=r"far.npy: indices 0\.\.400 do not fit the 40 vertices"):
        convert("lsfm", tmp_path / "lsfm.mat", tmp_path / "far.npy", tmp_path / "exp.mat")


def test_correspondence_files(tmp_path):
    (tmp_path / "a.txt").write_text("1 2\n3\n")
    np.testing.assert_array_equal(read_correspondence(tmp_path / "a.txt"), [1, 2, 3])
    with open(tmp_path / "b.pkl", "wb") as f:
        pickle.dump(np.array([7, 8]), f, protocol=4)
    np.testing.assert_array_equal(read_correspondence(tmp_path / "b.pkl"), [7, 8])
    (tmp_path / "c.txt").write_text("1.5 2")
    with pytest.raises(MorphableModelError, match="c.txt: expected a non-empty list of integer vertex indices"):
        read_correspondence(tmp_path / "c.txt")
    with open(tmp_path / "d.pkl", "wb") as f:
        pickle.dump({"other": [1]}, f)
    with pytest.raises(MorphableModelError, match="d.pkl: the pickled dict has no 'idxs'"):
        read_correspondence(tmp_path / "d.pkl")


class _Exploit:
    def __reduce__(self):
        return (print, ("pickle code ran",))


def test_pickled_correspondence_runs_no_code(tmp_path, capsys):
    with open(tmp_path / "evil.pkl", "wb") as f:
        pickle.dump({"idxs": _Exploit()}, f)
    with pytest.raises(MorphableModelError, match="refusing to load builtins.print"):
        read_correspondence(tmp_path / "evil.pkl")
    assert "pickle code ran" not in capsys.readouterr().out
