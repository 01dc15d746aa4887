"""HeadGAN discriminators: image discriminator D and mouth discriminator D_m (paper §3.3, supplement §3.2).

Both are SPADE's multi-scale PatchGAN discriminator (pix2pixHD's, with spectral normalisation):
at each scale a stack of ``4×4`` convs gives patch logits; the input is average-pooled by 2 between
scales.

Output format (relied on by the losses): ``list[list[Tensor]]``, one inner list per scale, full
resolution first; an inner list holds the output of every layer of that scale in order, the last
being the ``(B, 1, h, w)`` patch logits. Hinge losses use ``scale[-1]``, feature matching
``scale[:-1]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from headgan_model.networks.blocks import LEAKY_SLOPE

KERNEL_SIZE = 4
PADDING = 2
"""``4×4`` convs padded by 2 (pix2pixHD's ``ceil((4 - 1) / 2)``): a stride-2 layer maps ``n`` to ``n/2 + 1``."""


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Hyper-parameters of a multi-scale patch discriminator.

    The defaults are those of the image discriminator D (SPADE's: 64 channels, 4 layers, 2 scales;
    on 256² frames the patch logits are 35² and 19²). :meth:`mouth` gives D_m's.

    Attributes
    ----------
    width : int
        Channels of the first layer; each further layer doubles them, up to ``max_width``.
    n_layers : int
        Conv layers before the logits conv, ≥ 1: all but the last have stride 2, the last stride 1.
    num_scales : int
        Number of discriminators, each on the input downsampled once more, ≥ 1.
    max_width : int
        Channel cap.
    affine_norm : bool
        Instance norms with a learned per-channel scale and shift (official code) rather than
        parameter-free ones.
    """

    width: int = 64
    n_layers: int = 4
    num_scales: int = 2
    max_width: int = 512
    affine_norm: bool = False

    def __post_init__(self):
        if min(self.width, self.n_layers, self.num_scales, self.max_width) < 1:
            raise ValueError(f"every DiscriminatorConfig field must be ≥ 1, got {self}")

    @classmethod
    def mouth(cls) -> DiscriminatorConfig:
        """D_m's configuration for 64×64 mouth crops: 3 layers, 2 scales.

        One layer fewer than D keeps the receptive field (34 px) inside the 64² crop at full
        resolution; the second scale (32²) sees the whole mouth in one patch.
        """
        return cls(n_layers=3)


class PatchDiscriminator(nn.Module):
    """PatchGAN discriminator of one scale (pix2pixHD / SPADE ``NLayerDiscriminator``).

    Layers: ``conv-w`` stride 2 + LeakyReLU(0.2); then ``n_layers - 1`` convs doubling the channels
    (stride 2, the last one stride 1), each + instance norm (affine with ``affine_norm``) + LeakyReLU(0.2); then a
    stride-1 ``conv-1`` giving the logits. All convs are ``4×4``, padded by 2 and spectrally
    normalised; those followed by instance norm have no bias.

    Parameters
    ----------
    in_channels : int
        Input channels.
    config : DiscriminatorConfig
        Architecture (``num_scales`` is not used here).
    """

    def __init__(self, in_channels: int, config: DiscriminatorConfig):
        super().__init__()
        channels = config.width
        layers = [nn.Sequential(_conv(in_channels, channels, stride=2, bias=True), nn.LeakyReLU(LEAKY_SLOPE))]
        for index in range(1, config.n_layers):
            previous, channels = channels, min(2 * channels, config.max_width)
            stride = 1 if index == config.n_layers - 1 else 2
            layers.append(
                nn.Sequential(
                    _conv(previous, channels, stride=stride, bias=False),
                    nn.InstanceNorm2d(channels, affine=config.affine_norm),
                    nn.LeakyReLU(LEAKY_SLOPE),
                )
            )
        layers.append(_conv(channels, 1, stride=1, bias=True))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's output, in order.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, in_channels, H, W)``.

        Returns
        -------
        list of torch.Tensor
            ``n_layers + 1`` tensors; the last is the ``(B, 1, h, w)`` patch logits (unbounded).
        """
        outputs = []
        for layer in self.layers:
            x = layer(x)
            outputs.append(x)
        return outputs


def _conv(in_channels: int, out_channels: int, stride: int, bias: bool) -> nn.Module:
    return spectral_norm(nn.Conv2d(in_channels, out_channels, KERNEL_SIZE, stride=stride, padding=PADDING, bias=bias))


class MultiscaleDiscriminator(nn.Module):
    """``num_scales`` patch discriminators on the input at ``1, 1/2, 1/4, …`` resolution.

    Between scales the input is downsampled by ``avg_pool2d(3, stride 2, padding 1)``, padding not
    counted in the averages.

    Parameters
    ----------
    in_channels : int
        Input channels.
    config : DiscriminatorConfig
        Architecture.
    """

    def __init__(self, in_channels: int, config: DiscriminatorConfig):
        super().__init__()
        self.scales = nn.ModuleList([PatchDiscriminator(in_channels, config) for _ in range(config.num_scales)])

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        """Layer outputs of every scale.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, in_channels, H, W)``.

        Returns
        -------
        list of list of torch.Tensor
            Outer: scales, full resolution first; inner: that scale's layer outputs, logits last.
        """
        outputs = []
        for index, discriminator in enumerate(self.scales):
            if index > 0:
                x = F.avg_pool2d(x, kernel_size=3, stride=2, padding=1, count_include_pad=False)
            outputs.append(discriminator(x))
        return outputs


class ImageDiscriminator(nn.Module):
    """Image discriminator D on the pair (driving NMFC image ``x_t``, real or generated frame).

    Parameters
    ----------
    config : DiscriminatorConfig
        Architecture (default: D's).
    """

    def __init__(self, config: DiscriminatorConfig = DiscriminatorConfig()):
        super().__init__()
        self.discriminator = MultiscaleDiscriminator(6, config)

    def forward(self, nmfc_t: torch.Tensor, image: torch.Tensor) -> list[list[torch.Tensor]]:
        """Score a frame given its NMFC image.

        Parameters
        ----------
        nmfc_t : torch.Tensor
            ``(B, 3, H, W)`` current NMFC image ``x_t`` in ``[0, 1]``.
        image : torch.Tensor
            ``(B, 3, H, W)`` frame in ``[-1, 1]``.

        Returns
        -------
        list of list of torch.Tensor
            See the module docstring.
        """
        return self.discriminator(torch.cat([nmfc_t, image], dim=1))


class MouthDiscriminator(nn.Module):
    """Mouth discriminator D_m on a mouth crop conditioned on the audio features.

    The audio vector is replicated over the crop and concatenated to it channel-wise, so the
    input has ``3 + audio_dim`` channels; with ``audio_dim`` 0, D_m sees the crop alone (HeadGAN's
    official code does so for its audio-free generator).

    Parameters
    ----------
    config : DiscriminatorConfig
        Architecture (default: :meth:`DiscriminatorConfig.mouth`).
    audio_dim : int
        Length of the audio feature vector; 0: no audio input.
    """

    def __init__(self, config: DiscriminatorConfig = DiscriminatorConfig.mouth(), audio_dim: int = 300):
        super().__init__()
        self.audio_dim = audio_dim
        self.discriminator = MultiscaleDiscriminator(3 + audio_dim, config)

    def forward(self, mouth: torch.Tensor, audio: torch.Tensor | None) -> list[list[torch.Tensor]]:
        """Score a mouth crop given the audio.

        Parameters
        ----------
        mouth : torch.Tensor
            ``(B, 3, 64, 64)`` mouth crop in ``[-1, 1]`` (other sizes work as well).
        audio : torch.Tensor or None
            ``(B, audio_dim)`` audio features of the frame; None exactly when ``audio_dim`` is 0.

        Returns
        -------
        list of list of torch.Tensor
            See the module docstring.
        """
        if (audio is None) != (self.audio_dim == 0):
            raise ValueError(f"this mouth discriminator takes {self.audio_dim} audio features: got {None if audio is None else tuple(audio.shape)}")
        if audio is None:
            return self.discriminator(mouth)
        tiled = audio[:, :, None, None].expand(-1, -1, *mouth.shape[-2:])
        return self.discriminator(torch.cat([mouth, tiled], dim=1))
