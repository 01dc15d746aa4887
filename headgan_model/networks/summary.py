"""Size summaries of the networks."""

from __future__ import annotations

from torch import nn


def count_parameters(module: nn.Module) -> int:
    """Number of scalar parameters of a module, each shared tensor counted once.

    Spectrally normalised weights count once (their ``original``); the power-iteration vectors
    are buffers, not parameters, and are not counted.

    Parameters
    ----------
    module : nn.Module
        Any module.

    Returns
    -------
    int
        Total number of elements of its parameters, trainable or not.
    """
    return sum(parameter.numel() for parameter in module.parameters())
