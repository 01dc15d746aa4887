import hashlib

import numpy as np
import pytest
import zarr

from tests.face_3dmm import bumpy_head
from headgan_prep.fit.camera import FRONTAL_ROTATION
from headgan_prep.cli import main
from headgan_prep.render.shard import SCHEMA, render_shard
from headgan_prep.render.preview import nmfc_strips
from headgan_prep.render.renderer import NMFCRenderer, RenderConfig, RenderConfigError
from headgan_prep.fit.rotation import euler_to_matrix, matrix_to_quaternion


def write_fit_store(path, model, clips):
    root = zarr.open_group(str(path), mode="w", zarr_format=3)
    for clip_id, (identity, expression, camera, valid) in clips.items():
        group = root.create_group(clip_id)
        arrays = {"identity": identity, "expression": expression, "camera": camera, "valid": valid}
        for name, values in arrays.items():
            group.create_array(name, shape=values.shape, dtype=values.dtype)[...] = values


@pytest.fixture
def inputs(tmp_path):
    model = bumpy_head()
    model.save(tmp_path / "model.h5")
    rng = np.random.default_rng(0)
    clips = {}
    for clip_id, n_frames in (("id1+a+00001", 5), ("id2+b+00002", 3)):
        euler = np.c_[np.zeros(n_frames), rng.uniform(-60, 60, n_frames), np.zeros(n_frames)]
        camera = np.c_[np.full(n_frames, 0.8), matrix_to_quaternion(FRONTAL_ROTATION @ euler_to_matrix(euler))]
        camera = np.c_[camera, np.full((n_frames, 2), 128.0)].astype(np.float32)
        valid = np.ones(n_frames, bool)
        valid[1] = False
        camera[1] = np.nan
        expression = rng.normal(size=(n_frames, model.n_exp)).astype(np.float32) * 10
        clips[clip_id] = (rng.normal(size=model.n_id).astype(np.float32) * 10, expression, camera, valid)
    write_fit_store(tmp_path / "fit" / "train-0001.zarr", model, clips)
    return model, clips, tmp_path


def digest(store):
    files = sorted(p for p in store.rglob("*") if p.is_file())
    return {p.relative_to(store): hashlib.sha1(p.read_bytes()).hexdigest() for p in files}


def test_nmfc_store_layout_and_identical_rerun(inputs):
    model, clips, tmp_path = inputs
    out = tmp_path / "nmfc" / "train-0001.zarr"
    stats = render_shard(tmp_path / "fit" / "train-0001.zarr", tmp_path / "model.h5", out, RenderConfig(batch=4))
    assert (stats.n_clips, stats.n_kept, stats.n_frames) == (2, 2, 8)
    store = zarr.open_group(str(out), mode="r")
    assert store.attrs["schema"] == SCHEMA and store.attrs["shard"] == "train-0001" and store.attrs["size"] == 256
    assert store.attrs["config"] == {"colouring": "flat", "batch": 4}
    renderer = NMFCRenderer(model, batch=4)
    for clip_id, (identity, expression, camera, valid) in clips.items():
        clip = store[clip_id]
        assert clip["nmfc"].dtype == np.uint8 and clip["nmfc"].chunks == (1, 256, 256, 3)
        np.testing.assert_array_equal(clip["valid"][...], valid)
        np.testing.assert_array_equal(clip["nmfc"][...], renderer.render_clip(identity, expression, camera, valid))
        assert not clip["nmfc"][1].any() and clip["nmfc"][0].any()
        assert clip.attrs["n_frames"] == len(valid) and clip.attrs["n_valid"] == len(valid) - 1
    before = digest(out)
    render_shard(tmp_path / "fit" / "train-0001.zarr", tmp_path / "model.h5", out, RenderConfig(batch=4))
    assert digest(out) == before
    with pytest.raises(RenderConfigError, match="RenderConfig"):
        render_shard(tmp_path / "fit" / "train-0001.zarr", tmp_path / "model.h5", out, {"batch": 4})


def test_render_config_is_checked():
    assert RenderConfig.from_dict({"colouring": "vertex"}).to_dict() == {"colouring": "vertex", "batch": 16}
    for bad in ({"colouring": "smooth"}, {"batch": 0}, {"batch": 65}, {"batch": True}, {"size": 128}):
        with pytest.raises(RenderConfigError):
            RenderConfig.from_dict(bad)


def test_cli_render_and_preview(inputs, capsys):
    _, clips, tmp_path = inputs
    fit, out = tmp_path / "fit" / "train-0001.zarr", tmp_path / "nmfc" / "train-0001.zarr"
    command = ["-q", "render", "--fit", str(fit), "--model", str(tmp_path / "model.h5"), "--out", str(out)]
    assert main(command) == 0
    assert "n_frames=8" in capsys.readouterr().out
    assert zarr.open_group(str(out), mode="r").attrs["config"]["colouring"] == "flat"
    with pytest.raises(SystemExit, match="render.batch"):
        main([*command, "--settings", '{"batch": 0}'])

    crop_store = tmp_path / "crops" / "train-0001.zarr"
    crops = zarr.open_group(str(crop_store), mode="w", zarr_format=3)
    for clip_id, (_, expression, _, _) in clips.items():
        frames = np.full((len(expression), 256, 256, 3), 200, np.uint8)
        crops.create_group(clip_id).create_array("frames", shape=frames.shape, dtype=np.uint8)[...] = frames
    strips = nmfc_strips([crop_store], [out], frames_per_clip=3, tile=64)
    assert strips.shape == (2 * 64, 3 * 3 * 64, 3)
    first = strips[:64, :192]
    crop, face, overlay = first[:, :64], first[:, 64:128], first[:, 128:]
    drawn = face.any(-1)
    drawn[:20] = False  # the label
    assert drawn.mean() > 0.1 and (crop[20:] == 200).all()
    np.testing.assert_array_equal(overlay[drawn], crop[drawn] // 2 + face[drawn] // 2)
    preview = tmp_path / "nmfc.png"
    assert main(["preview-nmfc", "--crops", str(crop_store), "--nmfc", str(out), "--out", str(preview)]) == 0
    assert preview.stat().st_size > 0
