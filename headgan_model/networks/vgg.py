"""VGG19 feature extractor and the perceptual (VGG) loss of HeadGAN (supplement, Eq. 5).

The network is torchvision's ``vgg19().features`` (configuration E of Simonyan & Zisserman) with
the same layer indices, so the ImageNet weights torchvision publishes (:data:`VGG19_URL`) load
without renaming. As in pix2pixHD, the loss compares the activations relu1_1, relu2_1, relu3_1,
relu4_1 and relu5_1 of the two images, weighted 1/32, 1/16, 1/8, 1/4 and 1. The network sees the
images mapped to [0, 1] and normalised by the ImageNet mean and deviation its weights were trained
with; HeadGAN's official code feeds the [-1, 1] images as they are (``imagenet_input`` false).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from headgan_model.networks.state_file import load_checked, read_state_dict

VGG19_FILENAME = "vgg19-dcbbe1ae.pth"
VGG19_URL = f"https://download.pytorch.org/models/{VGG19_FILENAME}"
VGG19_SHA256_PREFIX = "dcbbe1ae"
"""First 8 hex digits of the sha256 of :data:`VGG19_FILENAME` (torchvision names its files so)."""

VGG19_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
"""Configuration E: output channels of each 3 × 3 convolution (each followed by a ReLU), ``"M"`` a
2 × 2 max pooling."""
RELU_LAYER_INDICES = (1, 6, 11, 20, 29)
"""Indices in ``features`` of relu1_1, relu2_1, relu3_1, relu4_1 and relu5_1."""
VGG_LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
"""Weights of the relu1_1 … relu5_1 terms of :class:`VGGLoss` (pix2pixHD)."""
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGWeightsMissing(FileNotFoundError):
    """The VGG19 weights file is not where the configuration says.

    Parameters
    ----------
    path : Path
        The missing file.
    """

    def __init__(self, path: Path):
        super().__init__(
            f"VGG19 weights {path} missing: download {VGG19_URL} (torchvision's ImageNet VGG19) to that "
            "path, or train without the perceptual loss by setting `train.vgg.enabled: false` in config.yaml"
        )
        self.path = path


def vgg19_feature_layers() -> nn.Sequential:
    """torchvision's ``vgg19().features`` layout: 37 layers, 16 convolutions (randomly initialised)."""
    layers: list[nn.Module] = []
    channels = 3
    for entry in VGG19_CONFIG:
        if entry == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, entry, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = entry
    return nn.Sequential(*layers)


class VGG19Features(nn.Module):
    """VGG19 activations relu1_1 … relu5_1 of images in [-1, 1].

    ``features`` holds all of torchvision's layers so that its state dict keys
    (``features.N.weight``, ``features.N.bias``) match; only layers 0–29 are run, the rest
    (conv5_2 … pool5) are never used.

    Parameters
    ----------
    imagenet_input : bool
        Map the images to ImageNet's input statistics first (``((x + 1) / 2 − mean) / std``);
        false feeds them unchanged, as HeadGAN's official code does.
    """

    def __init__(self, imagenet_input: bool = True):
        super().__init__()
        self.imagenet_input = imagenet_input
        self.features = vgg19_feature_layers()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: Tensor) -> list[Tensor]:
        """Activations of the five relu layers.

        Parameters
        ----------
        images : Tensor
            ``(B, 3, H, W)`` RGB in [-1, 1].

        Returns
        -------
        list[Tensor]
            relu1_1 ``(B, 64, H, W)``, relu2_1 ``(B, 128, H/2, W/2)``, relu3_1 ``(B, 256, H/4, W/4)``,
            relu4_1 ``(B, 512, H/8, W/8)``, relu5_1 ``(B, 512, H/16, W/16)`` (sizes rounded down), all ≥ 0.
        """
        x = ((images + 1) / 2 - self.mean) / self.std if self.imagenet_input else images
        activations = []
        for index, layer in enumerate(self.features[: RELU_LAYER_INDICES[-1] + 1]):
            x = layer(x)
            if index in RELU_LAYER_INDICES:
                activations.append(x)
        return activations


def load_vgg19(path: str | Path, imagenet_input: bool = True) -> VGG19Features:
    """The VGG19 feature extractor with torchvision's ImageNet weights, frozen.

    Parameters
    ----------
    path : str or Path
        A torchvision VGG19 state dict (:data:`VGG19_FILENAME`): the whole model's, whose
        ``classifier.*`` entries are ignored, or that of its ``features`` alone (keys ``N.weight``,
        ``N.bias``).
    imagenet_input : bool
        See :class:`VGG19Features`.

    Returns
    -------
    VGG19Features
        On the CPU, in eval mode, no parameter requiring gradients.

    Raises
    ------
    VGGWeightsMissing
        No file at ``path``.
    ValueError
        The file is not such a state dict; the message names the first missing or misshapen key.
    """
    path = Path(path)
    if not path.is_file():
        raise VGGWeightsMissing(path)
    state = read_state_dict(path, "a VGG19 state dict")
    prefix = "features." if any(isinstance(key, str) and key.startswith("features.") for key in state) else ""
    return load_checked(
        VGG19Features(imagenet_input), state, path, "a torchvision VGG19 state dict",
        rename=lambda key: prefix + key.removeprefix("features."), strict=False,
    )


class VGGLoss(nn.Module):
    """Perceptual loss Σᵢ wᵢ · mean|VGGᵢ(fake) − VGGᵢ(real)| over relu1_1 … relu5_1 (pix2pixHD).

    Parameters
    ----------
    network : VGG19Features
        Feature extractor, frozen here (``requires_grad_(False)``, eval mode) if it was not already.
    layer_weights : Sequence[float]
        One weight per relu layer; :data:`VGG_LAYER_WEIGHTS` by default.
    """

    def __init__(self, network: VGG19Features, layer_weights: Sequence[float] = VGG_LAYER_WEIGHTS):
        super().__init__()
        if len(layer_weights) != len(RELU_LAYER_INDICES):
            raise ValueError(f"{len(layer_weights)} layer weights for {len(RELU_LAYER_INDICES)} VGG layers")
        self.network = network.eval().requires_grad_(False)
        self.layer_weights = tuple(layer_weights)

    def forward(self, fake: Tensor, real: Tensor) -> Tensor:
        """The loss; gradients reach ``fake`` only.

        Parameters
        ----------
        fake : Tensor
            ``(B, 3, H, W)`` generated images in [-1, 1].
        real : Tensor
            ``(B, 3, H, W)`` target images in [-1, 1] (treated as constants).

        Returns
        -------
        Tensor
            Scalar ≥ 0.
        """
        fake_activations = self.network(fake)
        with torch.no_grad():
            real_activations = self.network(real)
        return sum(
            weight * F.l1_loss(fake_activation, real_activation)
            for weight, fake_activation, real_activation in zip(
                self.layer_weights, fake_activations, real_activations, strict=True
            )
        )
