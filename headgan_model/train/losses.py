"""HeadGAN's training objectives (supplement, section 2, Eq. 1–7).

The generator G minimises

    L_G = L_adv + L_adv^m + λ_L1 (L_L1 + L_L1^w) + λ_VGG (L_VGG + L_VGG^w) + λ_FM L_FM

(Eq. 6: hinge adversarial terms from the image discriminator D and the mouth discriminator D_m,
L1 and VGG distances of the generated frame and of the flow-warped reference to the ground truth,
feature matching through both discriminators); D and D_m each minimise their hinge loss (Eq. 7).
Conventions follow SPADE (hinge GAN loss, feature matching) and pix2pixHD (VGG loss).

Discriminator outputs
---------------------
A discriminator returns ``list[list[Tensor]]``: one inner list per scale (one scale for a
single-scale discriminator), holding the outputs of that scale's layers with the patch logits
``(B, 1, h, w)`` last. Hinge losses read the logits (``[-1]``); feature matching the other outputs
(``[:-1]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from headgan_model.networks.vgg import VGGLoss

DiscriminatorOutputs = Sequence[Sequence[Tensor]]
"""Per scale, the outputs of each layer, patch logits last."""

MOUTH_CROP_SIZE = 64
"""Side of the mouth crops given to D_m, pixels."""


def hinge_discriminator_loss(real_outputs: DiscriminatorOutputs, fake_outputs: DiscriminatorOutputs) -> Tensor:
    """Hinge loss of a discriminator (Eq. 2–3): per scale, mean(relu(1 − real logits)) +
    mean(relu(1 + fake logits)), then the mean over scales.

    The real and fake terms are summed, as in SPADE (pix2pixHD halves their sum).

    Parameters
    ----------
    real_outputs : DiscriminatorOutputs
        Outputs on real images.
    fake_outputs : DiscriminatorOutputs
        Outputs on generated images (which should be detached from the generator).

    Returns
    -------
    Tensor
        Scalar ≥ 0; 0 once every real logit is ≥ 1 and every fake logit ≤ −1.
    """
    per_scale = [
        F.relu(1 - real[-1]).mean() + F.relu(1 + fake[-1]).mean()
        for real, fake in zip(real_outputs, fake_outputs, strict=True)
    ]
    return torch.stack(per_scale).mean()


def hinge_generator_loss(fake_outputs: DiscriminatorOutputs) -> Tensor:
    """Adversarial loss of the generator (Eq. 1): −mean(fake logits), averaged over scales.

    Parameters
    ----------
    fake_outputs : DiscriminatorOutputs
        Discriminator outputs on generated images.

    Returns
    -------
    Tensor
        Scalar, any sign.
    """
    return torch.stack([-fake[-1].mean() for fake in fake_outputs]).mean()


def feature_matching_loss(
    fake_outputs: DiscriminatorOutputs, real_outputs: DiscriminatorOutputs, layer_weight: float = 1.0
) -> Tensor:
    """Discriminator feature matching (pix2pixHD, SPADE): Σ over scales and intermediate layers of
    ``layer_weight`` · mean|fake − real|, divided by the number of scales.

    Parameters
    ----------
    fake_outputs : DiscriminatorOutputs
        Outputs on generated images.
    real_outputs : DiscriminatorOutputs
        Outputs on the matching real images (treated as constants).
    layer_weight : float
        Weight of each layer's term: 1 (the paper), or ``4 / (n_layers + 1)`` as pix2pixHD and
        HeadGAN's official code weigh them (:func:`feature_matching_layer_weight`).

    Returns
    -------
    Tensor
        Scalar ≥ 0.

    Raises
    ------
    ValueError
        The outputs hold no intermediate layers, or the two disagree in their numbers of scales or layers.
    """
    distances = [
        F.l1_loss(fake_layer, real_layer.detach())
        for fake, real in zip(fake_outputs, real_outputs, strict=True)
        for fake_layer, real_layer in zip(fake[:-1], real[:-1], strict=True)
    ]
    if not distances:
        raise ValueError("the discriminator outputs hold no intermediate layers to match")
    return layer_weight * torch.stack(distances).sum() / len(fake_outputs)


FM_LAYER_WEIGHTS = ("1", "4/(n_layers+1)")
"""Values of ``losses.fm_layer_weight``: the paper's 1 per layer, or pix2pixHD's and the official code's."""


def feature_matching_layer_weight(rule: str, n_layers: int) -> float:
    """The per-layer feature-matching weight of a discriminator with ``n_layers`` layers under ``rule``
    (one of :data:`FM_LAYER_WEIGHTS`)."""
    return 1.0 if rule == "1" else 4.0 / (n_layers + 1)


FACE_THRESHOLD = 0.01
"""A pixel is on the face when its NMFC channels sum above this (HeadGAN's official masked L1)."""


def face_mask(nmfc: Tensor) -> Tensor:
    """``(B, 1, H, W)`` float, 1 where the ``(B, 3, H, W)`` NMFC image's channels sum above
    :data:`FACE_THRESHOLD` (the rendered face), 0 elsewhere."""
    return (nmfc.sum(dim=1, keepdim=True) > FACE_THRESHOLD).to(nmfc.dtype)


def masked_l1(fake: Tensor, real: Tensor, mask: Tensor) -> Tensor:
    """mean|fake · mask − real · mask| over every element (``(B, C, H, W)`` images, ``(B, 1, H, W)``
    mask): the L1 distance on the masked region, averaged over the whole frame as the official code does."""
    return F.l1_loss(fake * mask, real * mask)


@dataclass(frozen=True)
class LossWeights:
    """Weights of the generator's terms (supplement, Eq. 6).

    Attributes
    ----------
    l1 : float
        λ_L1, of the L1 distance of the generated frame and of the warped reference to the ground truth.
    vgg : float
        λ_VGG, of the VGG distance of the generated frame and of the warped reference to the ground truth.
    feature_matching : float
        λ_FM, of the feature matching through D and through D_m.
    adversarial : float
        Of the adversarial term from the image discriminator D.
    mouth_adversarial : float
        Of the adversarial term from the mouth discriminator D_m.
    flow_mask : float
        Of the L1 distance of F's flow mask to the foreground mask (only with ``generator.flow_mask``;
        official code: 10); 0 trains the mask head without it.
    l1_region : str
        ``frame``: L1 over the whole frame (the paper); ``face``: on the face region only, where the
        NMFC image x_t is drawn (:func:`face_mask`; official code).
    fm_layer_weight : str
        Feature-matching weight per layer, one of :data:`FM_LAYER_WEIGHTS`.
    """

    l1: float = 50.0
    vgg: float = 10.0
    feature_matching: float = 10.0
    adversarial: float = 1.0
    mouth_adversarial: float = 1.0
    flow_mask: float = 10.0
    l1_region: str = "frame"
    fm_layer_weight: str = "1"

    def __post_init__(self):
        if self.l1_region not in ("frame", "face"):
            raise ValueError(f"losses.l1_region must be frame or face, got {self.l1_region!r}")
        if self.fm_layer_weight not in FM_LAYER_WEIGHTS:
            raise ValueError(f"losses.fm_layer_weight must be one of {', '.join(FM_LAYER_WEIGHTS)}, got {self.fm_layer_weight!r}")


GENERATOR_TERM_WEIGHTS = {
    "g_adv": "adversarial",
    "g_mouth_adv": "mouth_adversarial",
    "g_l1": "l1",
    "g_vgg": "vgg",
    "g_feat": "feature_matching",
    "g_feat_mouth": "feature_matching",
    "g_l1_warp": "l1",
    "g_vgg_warp": "vgg",
    "g_flow_mask": "flow_mask",
}
"""The :class:`LossWeights` field weighting each term returned by :func:`generator_losses`."""


def crop_mouths(images: Tensor, boxes: Tensor, size: int = MOUTH_CROP_SIZE) -> Tensor:
    """``size × size`` crops of the images at the square mouth boxes (gradients reach ``images``).

    A box's side is ``x1 − x0`` rounded (the landmark stage sizes it from the mouth points, at
    least ``size``); its corner ``(x0, y0)`` is rounded to the nearest pixel (ties to even) and
    moved inside the image where needed. When every box's side is ``size`` the crops are slices;
    otherwise each box is resampled to ``size × size`` bilinearly (``grid_sample``, pixel centres).

    Parameters
    ----------
    images : Tensor
        ``(B, C, H, W)``, ``H, W ≥ size``.
    boxes : Tensor
        ``(B, 4)`` float ``[x0, y0, x1, y1]`` in pixels of ``images`` (any device).
    size : int
        Side of the crops.

    Returns
    -------
    Tensor
        ``(B, C, size, size)``; for a box of side ``size``, ``images[b, :, y:y + size, x:x + size]``.
    """
    batch, _, height, width = images.shape
    if size > height or size > width:
        raise ValueError(f"{size} × {size} crops do not fit in {height} × {width} images")
    boxes = boxes.detach().to(images.device)
    sides = (boxes[:, 2] - boxes[:, 0]).round().long().clamp(1, min(height, width))
    corners = boxes[:, :2].round().long()
    x0 = torch.minimum(corners[:, 0].clamp(min=0), width - sides)
    y0 = torch.minimum(corners[:, 1].clamp(min=0), height - sides)
    if bool((sides == size).all()):
        offsets = torch.arange(size, device=images.device)
        rows = (y0[:, None] + offsets)[:, :, None]  # (B, size, 1)
        columns = (x0[:, None] + offsets)[:, None, :]  # (B, 1, size)
        samples = torch.arange(batch, device=images.device)[:, None, None]
        return images.permute(0, 2, 3, 1)[samples, rows, columns].permute(0, 3, 1, 2)
    steps = (torch.arange(size, device=images.device, dtype=images.dtype) + 0.5) / size  # (size,)
    xs = (x0[:, None] + steps[None] * sides[:, None]) / width * 2 - 1  # (B, size), normalised
    ys = (y0[:, None] + steps[None] * sides[:, None]) / height * 2 - 1
    grid = torch.stack(torch.broadcast_tensors(xs[:, None, :], ys[:, :, None]), dim=-1)  # (B, size, size, 2)
    return F.grid_sample(images, grid.to(images.dtype), mode="bilinear", align_corners=False)


def generator_losses(
    *,
    generated: Tensor,
    real: Tensor,
    d_fake: DiscriminatorOutputs,
    d_real: DiscriminatorOutputs,
    dm_fake: DiscriminatorOutputs,
    dm_real: DiscriminatorOutputs,
    weights: LossWeights = LossWeights(),
    warped: Tensor | None = None,
    vgg_loss: VGGLoss | None = None,
    l1_mask: Tensor | None = None,
    fm_layer_weights: tuple[float, float] = (1.0, 1.0),
    flow_mask: Tensor | None = None,
    flow_mask_target: Tensor | None = None,
) -> dict[str, Tensor]:
    """The terms of the generator's objective (Eq. 6) and their weighted sum.

    Parameters
    ----------
    generated : Tensor
        ``(B, 3, H, W)`` generated frames in [-1, 1].
    real : Tensor
        ``(B, 3, H, W)`` ground-truth frames in [-1, 1].
    d_fake, d_real : DiscriminatorOutputs
        Image discriminator D on the generated and on the real frames (with their conditions).
    dm_fake, dm_real : DiscriminatorOutputs
        Mouth discriminator D_m on the generated and on the real mouth crops (:func:`crop_mouths`).
    weights : LossWeights
        λ of each term.
    warped : Tensor or None
        ``(B, 3, H, W)`` reference frames warped by the flow network, in [-1, 1]; None without the
        flow network, which drops the ``*_warp`` terms.
    vgg_loss : VGGLoss or None
        The perceptual loss; None drops the ``g_vgg*`` terms.
    l1_mask : Tensor or None
        ``(B, 1, H, W)``: the L1 terms on this region only (:func:`masked_l1`); None: the whole frame.
    fm_layer_weights : (float, float)
        Per-layer feature-matching weights through D and through D_m.
    flow_mask, flow_mask_target : Tensor or None
        ``(B, 1, H, W)`` F's flow mask and the foreground mask it should match (constant): the term
        ``g_flow_mask`` = mean|flow_mask − target|; None drops it.

    Returns
    -------
    dict[str, Tensor]
        Unweighted scalar terms ``g_adv``, ``g_mouth_adv``, ``g_l1``, ``g_vgg``, ``g_feat`` (through D),
        ``g_feat_mouth`` (through D_m), ``g_l1_warp``, ``g_vgg_warp``, ``g_flow_mask`` (those present; the weight of
        each is the :class:`LossWeights` field named in :data:`GENERATOR_TERM_WEIGHTS`) and
        ``g_total``, the weighted sum to minimise.
    """
    def l1(fake: Tensor) -> Tensor:
        return F.l1_loss(fake, real) if l1_mask is None else masked_l1(fake, real, l1_mask)

    terms = {
        "g_adv": hinge_generator_loss(d_fake),
        "g_mouth_adv": hinge_generator_loss(dm_fake),
        "g_l1": l1(generated),
        "g_feat": feature_matching_loss(d_fake, d_real, fm_layer_weights[0]),
        "g_feat_mouth": feature_matching_loss(dm_fake, dm_real, fm_layer_weights[1]),
    }
    if vgg_loss is not None:
        terms["g_vgg"] = vgg_loss(generated, real)
    if warped is not None:
        terms["g_l1_warp"] = l1(warped)
        if vgg_loss is not None:
            terms["g_vgg_warp"] = vgg_loss(warped, real)
    if flow_mask is not None and flow_mask_target is not None:
        terms["g_flow_mask"] = F.l1_loss(flow_mask, flow_mask_target.detach())
    terms["g_total"] = sum(getattr(weights, GENERATOR_TERM_WEIGHTS[name]) * value for name, value in terms.items())
    return terms


def discriminator_losses(
    *,
    d_real: DiscriminatorOutputs,
    d_fake: DiscriminatorOutputs,
    dm_real: DiscriminatorOutputs,
    dm_fake: DiscriminatorOutputs,
) -> dict[str, Tensor]:
    """The discriminators' hinge losses (Eq. 7).

    D and D_m share no parameters, so minimising ``d_total`` minimises each of their losses.

    Parameters
    ----------
    d_real, d_fake : DiscriminatorOutputs
        Image discriminator D on the real and on the generated frames (detached from G).
    dm_real, dm_fake : DiscriminatorOutputs
        Mouth discriminator D_m on the real and on the generated mouth crops (detached from G).

    Returns
    -------
    dict[str, Tensor]
        Scalars ``d_image`` (of D), ``d_mouth`` (of D_m) and ``d_total``, their sum.
    """
    d_image = hinge_discriminator_loss(d_real, d_fake)
    d_mouth = hinge_discriminator_loss(dm_real, dm_fake)
    return {"d_image": d_image, "d_mouth": d_mouth, "d_total": d_image + d_mouth}
