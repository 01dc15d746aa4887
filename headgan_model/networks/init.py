"""Weight initialisation of HeadGAN's official code: Xavier-normal weights, zero biases."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize

INIT_SCHEMES = ("default", "xavier")
"""``default``: PyTorch's own initialisation of each layer (the paper names none); ``xavier``: the
official code's ``init_weights('xavier', 0.02)``."""


def xavier_init(module: nn.Module, gain: float = 0.02) -> nn.Module:
    """Re-initialise every conv and linear layer of ``module`` in place: weights Xavier-normal with
    ``gain`` (std = gain · √(2 / (fan_in + fan_out))), biases 0.

    A spectrally normalised layer's underlying weight (``parametrizations.weight.original``) is
    the one initialised, as the official code's ``weight.data`` is the underlying weight of its
    spectral norm. Normalisation layers keep their scale 1 and shift 0.

    Returns
    -------
    nn.Module
        ``module`` itself.
    """
    with torch.no_grad():
        for layer in module.modules():
            if not isinstance(layer, (nn.Conv2d, nn.Linear)):
                continue
            if parametrize.is_parametrized(layer, "weight"):
                weight = layer.parametrizations.weight.original
            else:
                weight = layer.weight
            nn.init.xavier_normal_(weight, gain=gain)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return module
