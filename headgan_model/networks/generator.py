"""HeadGAN generator G = (dense flow network F, rendering network R), paper §3.3 and supplement §3.1.

F encodes the reference image with its NMFC image, predicts from the driving NMFC images a flow
that moves the reference to the driving pose, and warps the reference image and its three feature
maps with it. R translates the driving NMFC images into the output frame, modulated by the warped
features and reference image (SPADE blocks) and by the audio features (AdaIN blocks).

Shapes at the paper's size (``width`` 32, 256² frames) are those of the supplement's Tables 1–2;
any ``H`` and ``W`` divisible by 4 work, the feature maps being at ``1, 1/2, 1/4`` of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from headgan_model.networks.blocks import LEAKY_SLOPE, AdaINBlock, ConvEncoder, SPADEBlock, resize_flow, warp

IMAGE_CHANNELS = 3
"""Channels of an RGB image and of one NMFC image."""


@dataclass(frozen=True)
class GeneratorConfig:
    """Hyper-parameters of :class:`Generator`.

    Attributes
    ----------
    width : int
        ``w``: channels of the full-resolution feature maps; the encoders give ``w, 4w, 16w``
        channels at ``1, 1/2, 1/4`` resolution (paper: 32).
    nmfc_channels : int
        Channels of the driving input ``x_{t-2:t}``: three NMFC images concatenated channel-wise.
    audio_dim : int
        Length of the audio feature vector ``h_t^(a)``.
    use_audio : bool
        Whether R has its AdaIN blocks and takes audio; ``False`` is the audio-free variant (used
        for frontalisation and editing, where the driver has no speech).
    use_flow : bool
        Whether G has the dense flow network F; ``False`` is the ablation without F, where the
        unwarped reference features and image condition R directly.
    spade_hidden : int
        Hidden channels of every SPADE normalisation.
    spectral : bool
        Spectral normalisation on the convs of the SPADE and AdaIN blocks.
    """

    width: int = 32
    nmfc_channels: int = 9
    audio_dim: int = 300
    use_audio: bool = True
    use_flow: bool = True
    spade_hidden: int = 128
    spectral: bool = True


class FlowNetwork(nn.Module):
    """Dense flow network F (supplement, Table 1).

    Encoder: :class:`~headgan_model.networks.blocks.ConvEncoder` on ``(y_ref, x_ref)`` → ``h1, h2, h3``.
    Decoder from ``h3``: three SPADE blocks at 1/4 resolution, PixelShuffle(2) (``16w → 4w``
    channels), one SPADE block at 1/2 resolution, PixelShuffle(2) (``4w → w``), and a ``7×7`` conv
    to the 2-channel flow. Every SPADE block is conditioned on ``x_{t-2:t}`` resized to its size.

    The flow conv starts at zero (weights and bias), so an untrained F predicts a zero flow and
    warps by the identity: R first sees the unwarped reference, and F learns displacements from
    there rather than from random ones that would sample the reference mostly at its borders. (It
    has no spectral normalisation, which a zero weight would make undefined.)

    Parameters
    ----------
    config : GeneratorConfig
        Uses ``width``, ``nmfc_channels``, ``spade_hidden`` and ``spectral``.
    """

    def __init__(self, config: GeneratorConfig):
        super().__init__()
        width = config.width
        self.encoder = ConvEncoder(2 * IMAGE_CHANNELS, width)
        self.quarter_blocks = nn.ModuleList([_spade_block(16 * width, config.nmfc_channels, config) for _ in range(3)])
        self.half_block = _spade_block(4 * width, config.nmfc_channels, config)
        self.upsample = nn.PixelShuffle(2)
        self.to_flow = nn.Conv2d(width, 2, 7, padding=3)
        nn.init.zeros_(self.to_flow.weight)
        nn.init.zeros_(self.to_flow.bias)

    def forward(
        self, nmfc: torch.Tensor, ref_image: torch.Tensor, ref_nmfc: torch.Tensor
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Predict the flow from the reference to the driving pose.

        Parameters
        ----------
        nmfc : torch.Tensor
            ``(B, nmfc_channels, H, W)`` driving NMFC images ``x_{t-2:t}`` in ``[0, 1]``.
        ref_image : torch.Tensor
            ``(B, 3, H, W)`` reference image ``y_ref`` in ``[-1, 1]``.
        ref_nmfc : torch.Tensor
            ``(B, 3, H, W)`` reference NMFC image ``x_ref`` in ``[0, 1]``.

        Returns
        -------
        flow : torch.Tensor
            ``(B, 2, H, W)`` backward flow in pixels (see :func:`~headgan_model.networks.blocks.warp`).
        features : tuple of torch.Tensor
            The unwarped reference features ``h1 (B, w, H, W)``, ``h2 (B, 4w, H/2, W/2)``,
            ``h3 (B, 16w, H/4, W/4)``.
        """
        features = self.encode(ref_image, ref_nmfc)
        return self.flow(nmfc, features), features

    def encode(self, ref_image: torch.Tensor, ref_nmfc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The reference features ``h1, h2, h3`` of ``(B, 3, H, W)`` ``y_ref`` and ``x_ref`` (see :meth:`forward`)."""
        return self.encoder(torch.cat([ref_image, ref_nmfc], dim=1))

    def flow(self, nmfc: torch.Tensor, features: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """``(B, 2, H, W)`` flow from ``x_{t-2:t}`` and the reference features of :meth:`encode`
        (batch 1 or B: one reference's features broadcast over the batch)."""
        x = features[-1].expand(len(nmfc), -1, -1, -1)
        for block in self.quarter_blocks:
            x = block(x, nmfc)
        x = self.half_block(self.upsample(x), nmfc)
        return self.to_flow(self.upsample(x))


class RenderingStage(nn.Module):
    """One scale of R's decoder: SPADE block, AdaIN block (when audio is used), optional PixelShuffle(2).

    Parameters
    ----------
    channels : int
        Channels ``C`` in; out as well, or ``C/4`` (at twice the size) when ``upsample``.
    cond_channels : int
        Channels of the SPADE conditioning map.
    config : GeneratorConfig
        Uses ``use_audio``, ``audio_dim``, ``spade_hidden`` and ``spectral``.
    upsample : bool
        Whether the stage ends with PixelShuffle(2).
    """

    def __init__(self, channels: int, cond_channels: int, config: GeneratorConfig, upsample: bool):
        super().__init__()
        self.spade_block = _spade_block(channels, cond_channels, config)
        self.adain_block = AdaINBlock(channels, config.audio_dim, config.spectral) if config.use_audio else None
        self.upsample = nn.PixelShuffle(2) if upsample else nn.Identity()

    def forward(self, x: torch.Tensor, condition: torch.Tensor, audio: torch.Tensor | None) -> torch.Tensor:
        """``(B, C, h, w)`` → ``(B, C, h, w)`` or ``(B, C/4, 2h, 2w)``; ``audio`` ``(B, audio_dim)`` or None."""
        x = self.spade_block(x, condition)
        if self.adain_block is not None:
            x = self.adain_block(x, audio)
        return self.upsample(x)


class RenderingNetwork(nn.Module):
    """Rendering network R (supplement, Table 2).

    Encoder: :class:`~headgan_model.networks.blocks.ConvEncoder` on ``x_{t-2:t}``, of which only the deepest
    map (``16w`` channels, 1/4 resolution) is decoded. Decoder: SPADE(``h̄3``), AdaIN,
    PixelShuffle → SPADE(``h̄2``), AdaIN, PixelShuffle → SPADE(``h̄1``), AdaIN → SPADE(``ȳ_ref``) →
    LeakyReLU(0.2), ``7×7`` conv-3, tanh. Without audio the AdaIN blocks are absent.

    Parameters
    ----------
    config : GeneratorConfig
        Uses every field but ``use_flow``.
    """

    def __init__(self, config: GeneratorConfig):
        super().__init__()
        width = config.width
        self.encoder = ConvEncoder(config.nmfc_channels, width)
        self.stages = nn.ModuleList(
            [
                RenderingStage(16 * width, 16 * width, config, upsample=True),
                RenderingStage(4 * width, 4 * width, config, upsample=True),
                RenderingStage(width, width, config, upsample=False),
            ]
        )
        self.reference_block = _spade_block(width, IMAGE_CHANNELS, config)
        self.to_image = nn.Sequential(
            nn.LeakyReLU(LEAKY_SLOPE), nn.Conv2d(width, IMAGE_CHANNELS, 7, padding=3), nn.Tanh()
        )

    def forward(
        self,
        nmfc: torch.Tensor,
        features: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        reference: torch.Tensor,
        audio: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Render the frame.

        Parameters
        ----------
        nmfc : torch.Tensor
            ``(B, nmfc_channels, H, W)`` driving NMFC images in ``[0, 1]``.
        features : tuple of torch.Tensor
            Reference features ``(B, w, H, W)``, ``(B, 4w, H/2, W/2)``, ``(B, 16w, H/4, W/4)``
            (warped by F, or not when G has no F).
        reference : torch.Tensor
            ``(B, 3, H, W)`` reference image in ``[-1, 1]`` (warped by F, or not).
        audio : torch.Tensor or None
            ``(B, audio_dim)`` audio features; None exactly when the network has no AdaIN blocks.

        Returns
        -------
        torch.Tensor
            ``(B, 3, H, W)`` image in ``[-1, 1]``.
        """
        x = self.encoder(nmfc)[-1]
        for stage, condition in zip(self.stages, reversed(features)):
            x = stage(x, condition, audio)
        return self.to_image(self.reference_block(x, reference))


class Generator(nn.Module):
    """HeadGAN generator ``ỹ_t = G(x_{t-2:t}, y_ref, x_ref, h_t^(a))``.

    With F, the flow warps ``y_ref`` and each reference feature map (the flow resized to the map's
    size with :func:`~headgan_model.networks.blocks.resize_flow`) before they condition R. Without F
    (``use_flow`` false) a reference encoder of the same architecture as F's gives the features,
    which condition R unwarped, as does ``y_ref``.

    Parameters
    ----------
    config : GeneratorConfig
        Architecture.
    """

    def __init__(self, config: GeneratorConfig = GeneratorConfig()):
        super().__init__()
        self.config = config
        if config.use_flow:
            self.flow_network = FlowNetwork(config)
            self.reference_encoder = None
        else:
            self.flow_network = None
            self.reference_encoder = ConvEncoder(2 * IMAGE_CHANNELS, config.width)
        self.rendering_network = RenderingNetwork(config)

    def forward(
        self,
        nmfc: torch.Tensor,
        ref_image: torch.Tensor,
        ref_nmfc: torch.Tensor,
        audio: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor | None]:
        """Generate one frame.

        Parameters
        ----------
        nmfc : torch.Tensor
            ``(B, nmfc_channels, H, W)`` driving NMFC images ``x_{t-2:t}`` in ``[0, 1]``; ``H`` and
            ``W`` divisible by 4.
        ref_image : torch.Tensor
            ``(B, 3, H, W)`` reference image ``y_ref`` in ``[-1, 1]``.
        ref_nmfc : torch.Tensor
            ``(B, 3, H, W)`` reference NMFC image ``x_ref`` in ``[0, 1]``.
        audio : torch.Tensor or None
            ``(B, audio_dim)`` audio features ``h_t^(a)``: required when ``use_audio``, and must be
            None otherwise.

        Returns
        -------
        dict
            ``"image"``: ``(B, 3, H, W)`` generated frame in ``[-1, 1]``;
            ``"flow"``: ``(B, 2, H, W)`` flow in pixels, or None without F;
            ``"warped"``: ``(B, 3, H, W)`` reference image warped by the flow, or None without F.

        Raises
        ------
        ValueError
            On inputs of the wrong shape, sizes not divisible by 4, or audio given to a model
            without audio (or missing for one with).
        """
        _check_inputs(self.config, nmfc, ref_image, ref_nmfc, audio)
        return self.drive(nmfc, ref_image, self.encode_reference(ref_image, ref_nmfc), audio)

    def encode_reference(
        self, ref_image: torch.Tensor, ref_nmfc: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The reference features ``(B, w, H, W)``, ``(B, 4w, H/2, W/2)``, ``(B, 16w, H/4, W/4)`` of
        ``y_ref`` and ``x_ref`` (F's encoder, or the reference encoder without F), which depend on
        the reference only: inference computes them once per reference (:meth:`drive`)."""
        encoder = self.reference_encoder if self.flow_network is None else self.flow_network.encoder
        return encoder(torch.cat([ref_image, ref_nmfc], dim=1))

    def drive(
        self,
        nmfc: torch.Tensor,
        ref_image: torch.Tensor,
        features: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        audio: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor | None]:
        """:meth:`forward` from the reference features of :meth:`encode_reference`.

        ``ref_image`` and ``features`` have batch 1 (one reference for every frame, broadcast) or
        ``B``; the other inputs and the outputs are those of :meth:`forward` (inputs unchecked).
        """
        batch = len(nmfc)
        ref_image = ref_image.expand(batch, -1, -1, -1)
        if self.flow_network is None:
            features = tuple(feature.expand(batch, -1, -1, -1) for feature in features)
            flow = warped = None
            reference = ref_image
        else:
            flow = self.flow_network.flow(nmfc, features)
            features = tuple(warp(feature.expand(batch, -1, -1, -1), resize_flow(flow, feature.shape[-2:])) for feature in features)
            warped = reference = warp(ref_image, flow)
        image = self.rendering_network(nmfc, features, reference, audio)
        return {"image": image, "flow": flow, "warped": warped}


def _spade_block(channels: int, cond_channels: int, config: GeneratorConfig) -> SPADEBlock:
    return SPADEBlock(channels, cond_channels, spectral=config.spectral, hidden=config.spade_hidden)


def _check_inputs(
    config: GeneratorConfig,
    nmfc: torch.Tensor,
    ref_image: torch.Tensor,
    ref_nmfc: torch.Tensor,
    audio: torch.Tensor | None,
) -> None:
    if nmfc.ndim != 4 or nmfc.shape[1] != config.nmfc_channels:
        raise ValueError(f"nmfc must be (B, {config.nmfc_channels}, H, W), got {tuple(nmfc.shape)}")
    batch, _, height, width = nmfc.shape
    if height % 4 or width % 4:
        raise ValueError(f"frame height and width must be divisible by 4, got {height}×{width}")
    for name, tensor in (("ref_image", ref_image), ("ref_nmfc", ref_nmfc)):
        if tuple(tensor.shape) != (batch, IMAGE_CHANNELS, height, width):
            raise ValueError(
                f"{name} must be (B, 3, H, W) = {(batch, IMAGE_CHANNELS, height, width)} like nmfc, "
                f"got {tuple(tensor.shape)}"
            )
    if config.use_audio:
        if audio is None:
            raise ValueError("this generator uses audio (use_audio=True): pass audio features of shape (B, audio_dim)")
        if tuple(audio.shape) != (batch, config.audio_dim):
            raise ValueError(f"audio must be (B, audio_dim) = {(batch, config.audio_dim)}, got {tuple(audio.shape)}")
    elif audio is not None:
        raise ValueError("this generator has no audio input (use_audio=False): pass audio=None")
