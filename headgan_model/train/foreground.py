"""The foreground mask F's flow mask is trained against (HeadGAN's official code, ``G_L1_mask``).

The official code segments the target frame y_t and the reference y_ref with a BiSeNet face parser
(zllrunning/face-parsing.PyTorch, ``79999_iter.pth``, 19 classes: every class but background is
foreground, hair, neck and clothes included) and trains the mask against the union of the two.
Here the parser is a ``torch.export`` program file (``.pt2``: any network exported on a
``(1, 3, S, S)`` ImageNet-normalised RGB input that returns ``(1, n_classes, S, S)`` logits, class 0
the background, or a tuple whose first entry is that, as BiSeNet returns; frames are parsed one at
a time, so an export of static shape serves); the offline fallback is the union of the NMFC images' face regions of
x_t and x_ref (:func:`headgan_model.train.losses.face_mask`), which covers the face but not hair or neck.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from headgan_model.networks.vgg import IMAGENET_MEAN, IMAGENET_STD
from headgan_model.train.losses import face_mask

MASK_TARGETS = ("parser", "nmfc")
DISABLE_HINT = (
    "set `train.losses.flow_mask: 0` to train without the mask loss, or `train.flow_mask.target: nmfc` "
    "for the mask drawn from the NMFC images"
)


@dataclass(frozen=True)
class FlowMaskSettings:
    """Where the foreground mask comes from.

    Attributes
    ----------
    target : str
        ``parser`` (the official code) or ``nmfc`` (offline: the NMFC images' face regions).
    parser : str
        The face parser's ``torch.export`` file (``.pt2``), relative to the models directory (or absolute).
    parser_size : int
        Side the frames are resized to for the parser (BiSeNet: 512).
    """

    target: str = "parser"
    parser: str = "face_parsing/bisenet-79999_iter.pt2"
    parser_size: int = 512

    def __post_init__(self):
        if self.target not in MASK_TARGETS:
            raise ValueError(f"train.flow_mask.target must be parser or nmfc, got {self.target!r}")


class FaceParserError(ValueError):
    """The face parser's file is missing or not a usable face parser."""


def load_face_parser(path: Path, size: int = 512) -> nn.Module:
    """The exported face parser at ``path`` (``torch.export.load``), after checking what it returns
    on a probe image.

    Raises
    ------
    FaceParserError
        No file (the message says where to get one), not a ``torch.export`` file, or an output other
        than ``(1, n_classes ≥ 2, size, size)`` logits; every message names the file and
        :data:`DISABLE_HINT`.
    """
    path = Path(path)
    if not path.is_file():
        raise FaceParserError(
            f"face parser {path} missing: export BiSeNet of zllrunning/face-parsing.PyTorch with its "
            f"79999_iter.pth weights (the parser of HeadGAN's official code) in eval mode with "
            f"torch.export.export(net, (torch.zeros(1, 3, {size}, {size}),)) and torch.export.save to that "
            f"path (README: Model files); or {DISABLE_HINT}"
        )
    try:
        parser = torch.export.load(str(path)).module()
    except (RuntimeError, ValueError, KeyError) as error:
        raise FaceParserError(f"{path} is not a torch.export face parser ({str(error)[:200]}); {DISABLE_HINT}") from None
    try:
        with torch.no_grad():
            logits = _logits(parser(torch.zeros(1, 3, size, size)))
    except (RuntimeError, TypeError, IndexError, AssertionError) as error:
        raise FaceParserError(f"{path} fails on a (1, 3, {size}, {size}) image: {error}; {DISABLE_HINT}") from None
    if logits is None or logits.ndim != 4 or logits.shape[0] != 1 or logits.shape[1] < 2 or logits.shape[-2:] != (size, size):
        shape = None if logits is None else tuple(logits.shape)
        raise FaceParserError(
            f"{path} is not a face parser of the expected architecture: it maps a (1, 3, {size}, {size}) image to "
            f"{shape}, expected (1, n_classes, {size}, {size}) logits; {DISABLE_HINT}"
        )
    return parser


def _logits(output) -> Tensor | None:
    if isinstance(output, (tuple, list)):
        output = output[0] if output else None
    return output if isinstance(output, Tensor) else None


class ParserForeground(nn.Module):
    """Foreground of frames by a face parser: every pixel whose most likely class is not 0.

    Parameters
    ----------
    parser : nn.Module
        From :func:`load_face_parser`.
    size : int
        Side the frames are resized to (bilinear) for the parser.
    """

    def __init__(self, parser: nn.Module, size: int = 512):
        super().__init__()
        self.parser = parser
        self.size = size
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        """``(B, 3, H, W)`` RGB in [-1, 1] → ``(B, 1, H, W)`` float in [0, 1] (1: foreground; the
        binary mask resized back bilinearly, as the official code does)."""
        height, width = images.shape[-2:]
        x = F.interpolate(images.float(), size=(self.size, self.size), mode="bilinear", align_corners=False)
        x = ((x + 1) / 2 - self.mean) / self.std
        logits = torch.cat([_logits(self.parser(image[None])) for image in x])
        mask = (logits.argmax(dim=1, keepdim=True) > 0).float()
        return F.interpolate(mask, size=(height, width), mode="bilinear", align_corners=False)


def union(a: Tensor, b: Tensor) -> Tensor:
    """Pixel-wise union of two masks in [0, 1]: ``clamp(a + b, 0, 1)`` (the official ``join_masks``)."""
    return torch.clamp(a + b, 0.0, 1.0)


def nmfc_foreground(nmfc_t: Tensor, ref_nmfc: Tensor) -> Tensor:
    """The offline target: union of the face regions of ``(B, 3, H, W)`` NMFC images x_t and x_ref,
    ``(B, 1, H, W)`` float."""
    return union(face_mask(nmfc_t), face_mask(ref_nmfc))
