"""Building blocks of the HeadGAN generator: adaptive normalisations, their blocks, encoder, warping.

Conventions of the networks: tensors are ``(B, C, H, W)`` float; images are RGB in ``[-1, 1]``;
NMFC images are in ``[0, 1]``; flows are ``(B, 2, H, W)`` displacements in pixels, channel 0 along
x (width), channel 1 along y (height).

The adaptive blocks follow the SPADE ResNet block of Park et al. (2019) without its shortcut
(HeadGAN supplement, Fig. 1): ``norm → LeakyReLU(0.2) → 3×3 conv → norm → LeakyReLU(0.2) → 3×3 conv``
with the same number of channels throughout; the SPADE block optionally adds its input back (the
identity shortcut of SPADE's ``SPADEResnetBlock``, as HeadGAN's official code has it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

LEAKY_SLOPE = 0.2
"""Negative slope of every LeakyReLU of the networks."""


class SPADE(nn.Module):
    """Spatially-adaptive normalisation: ``instance_norm(x) · (1 + γ(c)) + β(c)``.

    The conditioning map ``c`` is resized to the spatial size of ``x`` (bilinear, ``align_corners``
    false; skipped when the sizes already agree) and passed through a shared ``3×3`` conv + ReLU
    and then two ``3×3`` convs predicting ``γ`` and ``β`` per channel and pixel. Bilinear rather
    than SPADE's nearest-neighbour resizing because HeadGAN's conditioning maps are continuous
    (NMFC colour codes, feature maps, images), not class labels.

    Parameters
    ----------
    norm_channels : int
        Channels ``C`` of the normalised input.
    cond_channels : int
        Channels of the conditioning map.
    hidden : int
        Channels of the shared hidden layer.
    """

    def __init__(self, norm_channels: int, cond_channels: int, hidden: int = 128):
        super().__init__()
        self.norm = nn.InstanceNorm2d(norm_channels, affine=False)
        self.shared = nn.Sequential(nn.Conv2d(cond_channels, hidden, 3, padding=1), nn.ReLU())
        self.gamma = nn.Conv2d(hidden, norm_channels, 3, padding=1)
        self.beta = nn.Conv2d(hidden, norm_channels, 3, padding=1)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Normalise and modulate.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, C, H, W)``.
        condition : torch.Tensor
            ``(B, cond_channels, H', W')``, any spatial size.

        Returns
        -------
        torch.Tensor
            ``(B, C, H, W)``.
        """
        if condition.shape[-2:] != x.shape[-2:]:
            condition = F.interpolate(condition, size=x.shape[-2:], mode="bilinear", align_corners=False)
        hidden = self.shared(condition)
        return self.norm(x) * (1 + self.gamma(hidden)) + self.beta(hidden)


class AdaIN(nn.Module):
    """Adaptive instance normalisation: ``instance_norm(x) · (1 + γ(s)) + β(s)``.

    ``γ`` and ``β`` (one value per channel) come from one linear layer on the style vector ``s``.

    Parameters
    ----------
    norm_channels : int
        Channels ``C`` of the normalised input.
    style_dim : int
        Length of the style vector.
    """

    def __init__(self, norm_channels: int, style_dim: int):
        super().__init__()
        self.norm = nn.InstanceNorm2d(norm_channels, affine=False)
        self.affine = nn.Linear(style_dim, 2 * norm_channels)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """Normalise and modulate.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, C, H, W)``.
        style : torch.Tensor
            ``(B, style_dim)``.

        Returns
        -------
        torch.Tensor
            ``(B, C, H, W)``.
        """
        gamma, beta = self.affine(style)[:, :, None, None].chunk(2, dim=1)
        return self.norm(x) * (1 + gamma) + beta


def _block_convs(channels: int, spectral: bool) -> tuple[nn.Conv2d, nn.Conv2d]:
    # The first conv has no bias: the normalisation right after it would cancel it.
    first = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
    second = nn.Conv2d(channels, channels, 3, padding=1)
    if spectral:
        first, second = spectral_norm(first), spectral_norm(second)
    return first, second


class SPADEBlock(nn.Module):
    """SPADE block: ``SPADE → LeakyReLU → 3×3 conv → SPADE → LeakyReLU → 3×3 conv`` (+ ``x`` when residual).

    Parameters
    ----------
    channels : int
        Channels ``C`` in and out.
    cond_channels : int
        Channels of the conditioning map.
    spectral : bool
        Spectral normalisation on both convs (SPADE's default for its generator).
    hidden : int
        Hidden channels of each :class:`SPADE`.
    residual : bool
        Add the block's input to its output (identity shortcut; the paper's blocks have none).
    """

    def __init__(self, channels: int, cond_channels: int, spectral: bool = True, hidden: int = 128, residual: bool = False):
        super().__init__()
        self.residual = residual
        self.norm_0 = SPADE(channels, cond_channels, hidden)
        self.norm_1 = SPADE(channels, cond_channels, hidden)
        self.conv_0, self.conv_1 = _block_convs(channels, spectral)
        self.activation = nn.LeakyReLU(LEAKY_SLOPE)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` → ``(B, C, H, W)``, modulated by ``condition`` ``(B, cond_channels, H', W')``."""
        dx = self.conv_0(self.activation(self.norm_0(x, condition)))
        dx = self.conv_1(self.activation(self.norm_1(dx, condition)))
        return x + dx if self.residual else dx


class AdaINBlock(nn.Module):
    """AdaIN block: ``AdaIN → LeakyReLU → 3×3 conv → AdaIN → LeakyReLU → 3×3 conv``, no shortcut.

    Parameters
    ----------
    channels : int
        Channels ``C`` in and out.
    style_dim : int
        Length of the style vector.
    spectral : bool
        Spectral normalisation on both convs.
    """

    def __init__(self, channels: int, style_dim: int, spectral: bool = True):
        super().__init__()
        self.norm_0 = AdaIN(channels, style_dim)
        self.norm_1 = AdaIN(channels, style_dim)
        self.conv_0, self.conv_1 = _block_convs(channels, spectral)
        self.activation = nn.LeakyReLU(LEAKY_SLOPE)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` → ``(B, C, H, W)``, modulated by ``style`` ``(B, style_dim)``."""
        x = self.conv_0(self.activation(self.norm_0(x, style)))
        return self.conv_1(self.activation(self.norm_1(x, style)))


class ConvEncoder(nn.Module):
    """Three-scale encoder of HeadGAN's F and R (supplement, Tables 1–2).

    ``7×7 conv-w`` (stride 1), ``3×3 conv-4w`` (stride 2), ``3×3 conv-16w`` (stride 2), each
    followed by an instance norm and ReLU; padding keeps ``H/1, H/2, H/4`` exactly. The convs have
    no bias, which the instance norm would cancel. The paper's encoder has parameter-free norms and
    zero padding; HeadGAN's official code puts spectral normalisation on the convs, a learned
    affine transform in the norms and reflection padding on the ``7×7`` conv.

    Parameters
    ----------
    in_channels : int
        Input channels.
    width : int
        ``w``: channels of the first feature map (32 in the paper).
    spectral : bool
        Spectral normalisation on the convs.
    affine : bool
        Instance norms with a learned per-channel scale and shift.
    reflect : bool
        Reflection (rather than zero) padding of the ``7×7`` conv.
    """

    def __init__(self, in_channels: int, width: int, spectral: bool = False, affine: bool = False, reflect: bool = False):
        super().__init__()
        self.out_channels = (width, 4 * width, 16 * width)
        options = {"spectral": spectral, "affine": affine}
        self.stages = nn.ModuleList(
            [
                _conv_norm_relu(in_channels, width, kernel_size=7, stride=1, reflect=reflect, **options),
                _conv_norm_relu(width, 4 * width, kernel_size=3, stride=2, **options),
                _conv_norm_relu(4 * width, 16 * width, kernel_size=3, stride=2, **options),
            ]
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, in_channels, H, W)``, ``H`` and ``W`` divisible by 4.

        Returns
        -------
        tuple of torch.Tensor
            ``(B, w, H, W)``, ``(B, 4w, H/2, W/2)``, ``(B, 16w, H/4, W/4)``, all ≥ 0 (after ReLU).
        """
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return tuple(features)


def _conv_norm_relu(
    in_channels: int, out_channels: int, kernel_size: int, stride: int, spectral: bool, affine: bool, reflect: bool = False
) -> nn.Sequential:
    conv = nn.Conv2d(
        in_channels,
        out_channels,
        kernel_size,
        stride=stride,
        padding=kernel_size // 2,
        bias=False,
        padding_mode="reflect" if reflect else "zeros",
    )
    return nn.Sequential(
        spectral_norm(conv) if spectral else conv, nn.InstanceNorm2d(out_channels, affine=affine), nn.ReLU()
    )


def warp(source: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward-warp ``source`` by a flow in pixels, bilinearly.

    ``out[:, :, y, x] = source`` sampled at ``(x + flow[:, 0, y, x], y + flow[:, 1, y, x])``, pixel
    centres at integer coordinates. Samples outside the image take the value of the nearest border
    pixel (``grid_sample`` padding mode ``"border"``), so warping never pulls in black.
    A zero flow is the identity (up to float rounding).

    Parameters
    ----------
    source : torch.Tensor
        ``(B, C, H, W)``.
    flow : torch.Tensor
        ``(B, 2, H, W)`` displacements in pixels of ``source``, x then y.

    Returns
    -------
    torch.Tensor
        ``(B, C, H, W)``; differentiable in ``source`` and ``flow``.
    """
    if flow.ndim != 4 or flow.shape[1] != 2 or flow.shape[-2:] != source.shape[-2:]:
        raise ValueError(
            f"flow must be (B, 2, H, W) with the source's H, W; "
            f"got {tuple(flow.shape)} for a source of {tuple(source.shape)}"
        )
    height, width = flow.shape[-2:]
    rows = torch.arange(height, dtype=flow.dtype, device=flow.device)[:, None]
    columns = torch.arange(width, dtype=flow.dtype, device=flow.device)[None, :]
    x = columns + flow[:, 0]
    y = rows + flow[:, 1]
    # Pixel coordinates → grid_sample's [-1, 1] (align_corners=False: -1 and 1 are the outer edges).
    grid = torch.stack(((2 * x + 1) / width - 1, (2 * y + 1) / height - 1), dim=-1)
    return F.grid_sample(source, grid, mode="bilinear", padding_mode="border", align_corners=False)


def resize_flow(flow: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a pixel flow to another grid, rescaling its vectors to the new pixel size.

    The field is resized bilinearly (``align_corners`` false); the x vectors are multiplied by
    ``W_new / W`` and the y vectors by ``H_new / H``.

    Parameters
    ----------
    flow : torch.Tensor
        ``(B, 2, H, W)`` in pixels of the ``(H, W)`` grid.
    size : tuple of int
        ``(H_new, W_new)``.

    Returns
    -------
    torch.Tensor
        ``(B, 2, H_new, W_new)`` in pixels of the new grid (``flow`` itself when the size is unchanged).
    """
    height, width = flow.shape[-2:]
    new_height, new_width = size
    if (new_height, new_width) == (height, width):
        return flow
    resized = F.interpolate(flow, size=(new_height, new_width), mode="bilinear", align_corners=False)
    scale = torch.tensor([new_width / width, new_height / height], dtype=flow.dtype, device=flow.device)
    return resized * scale[None, :, None, None]
