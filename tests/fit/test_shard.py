import numpy as np
import pytest
import zarr
from tests.face_3dmm import synthetic_clip, synthetic_model

from headgan_prep.cli import main
from headgan_prep.fit.algorithm import FitConfig, FitError
from headgan_prep.fit.shard import SCHEMA, fit_shard
from headgan_prep.store.rejections import read_rejections
from headgan_prep.store.layout import N_IBUG

MODEL = synthetic_model(n_vertices=120, n_id=10, n_exp=5)


def write_landmarks(path, clips: dict, backend="mediapipe"):
    """A landmark store with the given ``{clip_id: (points, valid)}``; the iBUG points are the first
    68 points (the last 68 for insightface, as its regressor gives them)."""
    root = zarr.open_group(str(path), mode="w", zarr_format=3)
    for clip_id, (points, valid) in clips.items():
        group = root.create_group(clip_id, attributes={"clip_id": clip_id, "backend": backend})
        group.create_array("points", data=points)
        group.create_array("ibug68", data=points[:, -N_IBUG:] if backend == "insightface" else points[:, :N_IBUG])
        group.create_array("valid", data=valid)
    return path


@pytest.fixture
def inputs(tmp_path):
    good = synthetic_clip(MODEL, n_frames=30, noise_px=0.2, seed=1)
    noisy = synthetic_clip(MODEL, n_frames=30, noise_px=8.0, seed=2)
    sparse = synthetic_clip(MODEL, n_frames=30, noise_px=0.2, seed=3)
    valid = np.ones(30, bool)
    mostly_invalid = valid.copy()
    mostly_invalid[:20] = False
    store = write_landmarks(
        tmp_path / "train-0001.zarr",
        {"a+good": (good.points, valid), "b+noisy": (noisy.points, valid), "c+sparse": (sparse.points, mostly_invalid)},
    )
    model = tmp_path / "model.h5"
    MODEL.save(model)
    return store, model, good


def test_fit_store_layout_rejections_and_identical_rerun(tmp_path, inputs):
    store, model, good = inputs
    out, rejected = tmp_path / "fit/train-0001.zarr", tmp_path / "rejected/fit/train-0001.tsv"
    stats = fit_shard(store, model, out, rejected, FitConfig())
    assert (stats.n_clips, stats.n_kept, stats.n_rejected) == (3, 1, 2)
    assert stats.rejected_by_reason == {"invalid_frames": 1, "residual": 1}
    assert {(r.clip_id, r.stage, r.reason) for r in read_rejections(rejected)} == {
        ("b+noisy", "fit", "residual"),
        ("c+sparse", "fit", "invalid_frames"),
    }
    root = zarr.open_group(str(out), mode="r")
    assert dict(root.attrs) | {"config": None} == {
        "schema": SCHEMA,
        "shard": "train-0001",
        "n_clips": 1,
        "model": "synthetic",
        "model_source": "",
        "solver": "pinv",
        "n_id": 10,
        "n_exp": 5,
        "config": None,
    }
    assert root.attrs["config"] == FitConfig().to_dict()
    clip = root["a+good"]
    shapes = {name: (clip[name].shape, clip[name].dtype) for name in clip.array_keys()}
    assert shapes == {
        "identity": ((10,), np.float32),
        "expression": ((30, 5), np.float32),
        "camera": ((30, 7), np.float32),
        "euler": ((30, 3), np.float32),
        "residual": ((30,), np.float32),
        "valid": ((30,), np.bool_),
        "openings": ((30, 3, 2), np.float32),
        "expression_error": ((30,), np.float32),
    }
    assert clip.attrs["n_valid"] == 30 and 0 < clip.attrs["median_residual_px"] < 1
    assert 0 < clip.attrs["expression_error"] < 0.05  # 0.2 px noise
    np.testing.assert_allclose(clip["euler"][...], good.euler, atol=0.5)

    files = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    fit_shard(store, model, out, rejected, FitConfig())
    assert {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == files
    assert [p.name for p in out.parent.iterdir()] == ["train-0001.zarr"]


def test_expression_error_rejection_is_off_by_default_and_configurable(tmp_path, inputs):
    store, model, _ = inputs
    out = tmp_path / "fit/train-0001.zarr"
    fit_shard(store, model, out, tmp_path / "r.tsv", FitConfig(max_residual_px=100))
    error = zarr.open_group(str(out), mode="r")["b+noisy"].attrs["expression_error"]
    stats = fit_shard(store, model, out, tmp_path / "r.tsv", FitConfig(max_residual_px=100, max_expression_error=error / 2))
    assert stats.rejected_by_reason == {"invalid_frames": 1, "expression_error": 1}  # the 0.2 px clip is kept
    row = next(r for r in read_rejections(tmp_path / "r.tsv") if r.clip_id == "b+noisy")
    assert row.detail == f"mean expression error {error:.3g} > max_expression_error={error / 2:g}"
    with pytest.raises(ValueError, match="max_expression_error must be a positive number or null"):
        FitConfig(max_expression_error=0)


def test_insightface_store_fits_the_dense_points_and_other_counts_are_refused(tmp_path, inputs):
    _, model, good = inputs
    with_ibug = np.concatenate([good.points, np.zeros((30, N_IBUG, 3), np.float32)], axis=1)
    store = write_landmarks(tmp_path / "test-0000.zarr", {"a": (with_ibug, np.ones(30, bool))}, backend="insightface")
    stats = fit_shard(store, model, tmp_path / "fit.zarr", tmp_path / "rejected.tsv", FitConfig())
    assert stats.n_kept == 1 and stats.n_valid == 30

    store = write_landmarks(tmp_path / "test-0001.zarr", {"a": (with_ibug, np.ones(30, bool))})
    with pytest.raises(FitError, match="fits 120 points but the landmark store holds 188"):
        fit_shard(store, model, tmp_path / "fit2.zarr", tmp_path / "rejected2.tsv", FitConfig())
    assert not (tmp_path / "fit2.zarr").exists()


def test_cli_fit(tmp_path, inputs, capsys):
    store, model, _ = inputs
    out = tmp_path / "out.zarr"
    args = [
        "fit",
        "--landmarks",
        str(store),
        "--model",
        str(model),
        "--out",
        str(out),
        "--rejected",
        str(tmp_path / "r.tsv"),
    ]
    assert main([*args, "--settings", '{"solver": "bounded", "max_residual_px": 100}']) == 0
    assert zarr.open_group(str(out), mode="r").attrs["solver"] == "bounded"
    assert len(read_rejections(tmp_path / "r.tsv")) == 1
    wrong = synthetic_model(n_vertices=50)
    wrong.save(tmp_path / "wrong.h5")
    assert main([*args[:3], "--model", str(tmp_path / "wrong.h5"), *args[5:]]) == 1
    assert "fits 50 points but the landmark store holds 120" in capsys.readouterr().err
    assert main([*args[:3], "--model", str(tmp_path / "missing.h5"), *args[5:]]) == 1
    assert "does not exist" in capsys.readouterr().err
