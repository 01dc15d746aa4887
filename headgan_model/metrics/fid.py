"""FID features: the 2048-d pool features of TensorFlow's Inception v3 of 2015-12-05.

FID (Heusel et al. 2017) is the Fréchet distance (:mod:`headgan_model.metrics.frechet`) between
Gaussians fitted to these features of real and generated frames. The network is the one the
original TensorFlow FID code runs, as pytorch-fid ports it: torchvision's Inception v3 layout with
pytorch-fid's changes for FID — the average pools of the A, C and first E blocks exclude the
padding from their mean (``count_include_pad=False``) and the last E block pools by maximum. As in
pytorch-fid, frames in [0, 1] are resized to 299 × 299 (bilinear, ``align_corners=False``), scaled
to [-1, 1], and the output of the final average pool is the feature.

The module and parameter names are those of torchvision's ``Inception3``, so pytorch-fid's weights
file :data:`FID_WEIGHTS_FILENAME` loads as it is (its ``fc`` logits layer is not used). No package
ships that file: it is an asset of pytorch-fid's GitHub release (:data:`FID_WEIGHTS_URL`).
torch-fidelity's ``weights-inception-2015-12-05-6726825d.pth`` has the same keys and loads too, but
torch-fidelity resizes like TensorFlow 1 and scales by ``(x − 128) / 128``, so its scores differ
slightly from pytorch-fid's and these.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from headgan_model.metrics.frames import as_frames, batches, to_nchw
from headgan_model.metrics.frechet import FeatureStatistics, frechet_distance
from headgan_model.metrics.result import MetricResult
from headgan_model.networks.state_file import load_checked, read_state_dict

FID_WEIGHTS_FILENAME = "pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_FILE = f"pytorch-fid/{FID_WEIGHTS_FILENAME}"
"""Its path relative to the models folder."""
FID_WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{FID_WEIGHTS_FILENAME}"
FID_WEIGHTS_SHA256_PREFIX = "6726825d"
"""First 8 hex digits of the file's SHA-256 (the torch hub naming convention)."""
INPUT_SIZE = 299
FEATURE_DIMENSION = 2048
UNUSED_KEYS = ("fc.weight", "fc.bias")
"""Entries of the weights file that the features do not use (the 1008 ImageNet logits)."""


class FIDWeightsMissing(FileNotFoundError):
    """The FID Inception weights are not at the configured path; the message says where to get them."""

    def __init__(self, path: Path):
        super().__init__(
            f"FID Inception weights {path} missing: download {FID_WEIGHTS_URL} (pytorch-fid's port of "
            "TensorFlow's Inception 2015-12-05, Apache-2.0) and save it at that path"
        )
        self.path = path


class BasicConv2d(nn.Module):
    """Convolution without bias, batch normalisation (ε = 1e-3), ReLU."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


def _average_pool(x: Tensor) -> Tensor:
    """3 × 3 average pool, stride 1, the zero padding left out of the mean (TensorFlow's)."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    """35 × 35 block: 1×1, 5×5, double 3×3 and pooled branches; out 224 + pool_features channels."""

    def __init__(self, in_channels: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch5x5_2(self.branch5x5_1(x)),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                self.branch_pool(_average_pool(x)),
            ],
            1,
        )


class InceptionB(nn.Module):
    """Reduction 35 → 17: strided 3×3, strided double 3×3 and max-pool branches."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat(
            [
                self.branch3x3(x),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                F.max_pool2d(x, kernel_size=3, stride=2),
            ],
            1,
        )


class InceptionC(nn.Module):
    """17 × 17 block with factorised 7×7 convolutions; out 768 channels."""

    def __init__(self, in_channels: int, channels_7x7: int):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        seven = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        double = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            double = layer(double)
        return torch.cat([self.branch1x1(x), seven, double, self.branch_pool(_average_pool(x))], 1)


class InceptionD(nn.Module):
    """Reduction 17 → 8: strided 3×3, 7×7-then-strided-3×3 and max-pool branches."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        seven = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), seven, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionE(nn.Module):
    """8 × 8 block with split 1×3 / 3×1 branches; out 2048 channels.

    Parameters
    ----------
    in_channels : int
    max_pool : bool
        Pool branch by 3 × 3 maximum (the FID network's last block) instead of the average.
    """

    def __init__(self, in_channels: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        three = self.branch3x3_1(x)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else _average_pool(x)
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch3x3_2a(three),
                self.branch3x3_2b(three),
                self.branch3x3dbl_3a(double),
                self.branch3x3dbl_3b(double),
                self.branch_pool(pooled),
            ],
            1,
        )


class FIDInception(nn.Module):
    """TensorFlow's Inception v3 (2015-12-05) up to its final average pool (randomly initialised
    until :func:`load_fid_inception` loads the weights)."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, max_pool=False)
        self.Mixed_7c = InceptionE(2048, max_pool=True)

    def forward(self, images: Tensor) -> Tensor:
        """Pool features.

        Parameters
        ----------
        images : Tensor
            ``(B, 3, H, W)`` RGB in [0, 1], any size (resized to 299 × 299).

        Returns
        -------
        Tensor
            ``(B, 2048)`` features ≥ 0.
        """
        x = F.interpolate(images, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (
            self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
            self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c,
        ):  # fmt: skip
            x = block(x)
        return x.mean(dim=(2, 3))


def load_fid_inception(path: str | Path, check_hash: bool = True) -> FIDInception:
    """The FID network with pytorch-fid's weights, frozen, in eval mode, on the CPU.

    Parameters
    ----------
    path : str or Path
        pytorch-fid's :data:`FID_WEIGHTS_FILENAME` (a torch state dict in torchvision's
        ``Inception3`` key layout; ``num_batches_tracked`` entries optional, ``fc.*`` ignored).
    check_hash : bool
        Check that the file's SHA-256 starts with :data:`FID_WEIGHTS_SHA256_PREFIX`.

    Raises
    ------
    FIDWeightsMissing
        No file at ``path``.
    ValueError
        Another file: wrong hash, or keys missing, misshapen or unknown (the message names them).
    """
    path = Path(path)
    if not path.is_file():
        raise FIDWeightsMissing(path)
    if check_hash:
        from headgan_prep.models.registry import sha256_of

        digest = sha256_of(path)
        if not digest.startswith(FID_WEIGHTS_SHA256_PREFIX):
            raise ValueError(
                f"{path} has SHA-256 {digest}, not the {FID_WEIGHTS_SHA256_PREFIX}… of {FID_WEIGHTS_FILENAME} "
                f"({FID_WEIGHTS_URL})"
            )
    state = read_state_dict(path, "a state dict")
    return load_checked(FIDInception(), state, path, "the FID Inception state dict", ignored=UNUSED_KEYS)


def fid_features(frames: np.ndarray, network: FIDInception, *, device="cpu", batch_size: int = 32) -> np.ndarray:
    """FID features of frames.

    Parameters
    ----------
    frames : np.ndarray
        uint8 RGB ``(..., H, W, 3)``, mapped to [0, 1] by ``x / 255``.
    network : FIDInception
        From :func:`load_fid_inception`; moved to ``device``.
    device : str or torch.device
    batch_size : int
        Frames per forward pass.

    Returns
    -------
    np.ndarray
        ``(N, 2048)`` float64 features, N the number of frames.
    """
    frames = as_frames(frames)
    network = network.to(device)
    features = np.empty((len(frames), FEATURE_DIMENSION), dtype=np.float64)
    with torch.no_grad():
        for part in batches(len(frames), batch_size):
            features[part] = network(to_nchw(frames[part], device) / 255).double().cpu().numpy()
    return features


def fid(generated: np.ndarray, real: np.ndarray, network: FIDInception, *, device="cpu", batch_size: int = 32) -> MetricResult:
    """FID between two frame sets (any sizes and counts, at least 2 frames each).

    Parameters
    ----------
    generated, real : np.ndarray
        uint8 RGB frames ``(..., H, W, 3)``; the two sets need not have the same count or size.
    network : FIDInception
    device : str or torch.device
        Where the features are computed (the distance is computed on the CPU).
    batch_size : int

    Returns
    -------
    MetricResult
        ``FID``: the Fréchet distance of the two feature Gaussians, with a warning for each set of at most
        2048 frames (see :func:`~headgan_model.metrics.frechet.frechet_distance`).
    """
    first = FeatureStatistics.of(fid_features(generated, network, device=device, batch_size=batch_size))
    second = FeatureStatistics.of(fid_features(real, network, device=device, batch_size=batch_size))
    return frechet_distance(first, second, name="FID")
