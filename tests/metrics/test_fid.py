"""FID network: its state dict is pytorch-fid's key layout (``data/pt_inception_keys.txt``, taken
from torchvision's Inception3 that pytorch-fid loads); it loads a file generated here in that layout
and gives 2048-d features; wrong files are refused with clear messages."""

from pathlib import Path

import numpy as np
import pytest
import torch

from headgan_model.metrics import fid as fid_module
from headgan_model.metrics.fid import (
    FID_WEIGHTS_FILE,
    FID_WEIGHTS_URL,
    FIDInception,
    FIDWeightsMissing,
    fid_features,
    load_fid_inception,
)
from headgan_model.metrics.frechet import FeatureStatistics, frechet_distance
from headgan_prep.models.registry import REGISTRY, ModelFileMissing, resolve_model

KEYS_FILE = Path(__file__).parent / "data" / "pt_inception_keys.txt"


def real_layout() -> dict[str, tuple[int, ...]]:
    layout = {}
    for line in KEYS_FILE.read_text().splitlines():
        if line and not line.startswith("#"):
            key, *shape = line.split()
            layout[key] = tuple(int(n) for n in shape)
    return layout


def generated_state_dict(layout: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """Random weights in every key and shape of the real file; BN statistics that keep activations finite."""
    generator = torch.Generator().manual_seed(0)
    state = {}
    for key, shape in layout.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(0)
        elif key.endswith("conv.weight") or key == "fc.weight":
            fan_in = int(np.prod(shape[1:]))
            state[key] = torch.randn(shape, generator=generator) * (2 / fan_in) ** 0.5
        elif key.endswith(("running_var", "bn.weight")):
            state[key] = 1 + 0.1 * torch.rand(shape, generator=generator)
        else:  # bn.bias, running_mean, fc.bias
            state[key] = 0.1 * torch.randn(shape, generator=generator)
    return state


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("fid") / "pt_inception-generated.pth"
    torch.save(generated_state_dict(real_layout()), path)
    return path


def test_layout_matches_pytorch_fid():
    layout = real_layout()
    assert len(layout) == 566
    ours = {key: tuple(value.shape) for key, value in FIDInception().state_dict().items()}
    assert ours == {key: shape for key, shape in layout.items() if not key.startswith("fc.")}
    assert sum(np.prod(shape) for key, shape in layout.items() if "num_batches" not in key) == 23_885_392


def test_loads_generated_file_and_gives_features(weights_file, single_torch_thread):
    network = load_fid_inception(weights_file, check_hash=False)
    state = torch.load(weights_file, weights_only=True)
    assert torch.equal(network.Mixed_7c.branch_pool.conv.weight, state["Mixed_7c.branch_pool.conv.weight"])
    assert torch.equal(network.Mixed_6b.branch7x7_2.bn.running_var, state["Mixed_6b.branch7x7_2.bn.running_var"])
    assert not any(p.requires_grad for p in network.parameters()) and not network.training

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 64, 48, 3), dtype=np.uint8)
    features = fid_features(frames, network, batch_size=2)
    assert features.shape == (3, 2048) and features.dtype == np.float64
    assert np.isfinite(features).all() and (features >= 0).all() and features.std() > 0
    np.testing.assert_allclose(fid_features(frames[2], network), features[2:], rtol=1e-5, atol=1e-6)
    assert not np.allclose(features[0], features[1])


def test_wrong_files_are_refused(weights_file, tmp_path):
    with pytest.raises(ValueError, match="SHA-256 .* not the 6726825d"):
        load_fid_inception(weights_file)
    state = torch.load(weights_file, weights_only=True)
    del state["Mixed_5b.branch5x5_2.conv.weight"]
    for key in [k for k in state if k.endswith("num_batches_tracked")]:
        del state[key]  # optional: files from old torch versions lack them
    torch.save(state, tmp_path / "missing.pth")
    with pytest.raises(
        ValueError, match=r"Mixed_5b.branch5x5_2.conv.weight is missing, expected shape \(64, 48, 5, 5\)"
    ):
        load_fid_inception(tmp_path / "missing.pth", check_hash=False)
    state = torch.load(weights_file, weights_only=True)
    state["AuxLogits.fc.weight"] = torch.zeros(1008, 768)
    torch.save(state, tmp_path / "aux.pth")
    with pytest.raises(ValueError, match="unknown keys .*AuxLogits.fc.weight"):
        load_fid_inception(tmp_path / "aux.pth", check_hash=False)


def test_missing_weights_say_where_to_get_them(tmp_path):
    with pytest.raises(FIDWeightsMissing) as caught:
        load_fid_inception(tmp_path / "pt_inception-2015-12-05-6726825d.pth")
    assert FID_WEIGHTS_URL in str(caught.value) and str(tmp_path) in str(caught.value)
    assert FID_WEIGHTS_URL == REGISTRY[FID_WEIGHTS_FILE].source.url
    with pytest.raises(ModelFileMissing, match=FID_WEIGHTS_URL.replace(".", r"\.")):
        resolve_model(tmp_path, FID_WEIGHTS_FILE)


def test_fid_compares_the_two_sets(monkeypatch):
    """fid() fits a Gaussian to each set's features; features stubbed to mean colours (3-d) so that
    the 2048-d matrix square root is not computed here."""

    def mean_colours(frames, network, **_):
        return frames.reshape(len(frames), -1, 3).mean(1)

    monkeypatch.setattr(fid_module, "fid_features", mean_colours)
    rng = np.random.default_rng(1)
    generated = rng.integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)
    real = rng.integers(0, 200, (3, 9, 7, 3), dtype=np.uint8)
    score = fid_module.fid(generated, real, network=None)
    expected = frechet_distance(*(FeatureStatistics.of(mean_colours(f, None)) for f in (generated, real)))
    assert score.value == pytest.approx(expected.value, rel=1e-12) and score.value > 0
    assert len(score.warnings) == 1 and "second set has 3 samples of 3-dimensional" in score.warnings[0]
