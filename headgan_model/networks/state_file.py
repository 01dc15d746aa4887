"""Weights files of networks defined here: read a torch state dict and check it key by key.

The networks whose weights come from elsewhere (torchvision's VGG19, pytorch-fid's Inception,
SyncNet) are defined in this project; a file is accepted only when every key the network has is a
tensor of the network's shape, so that a wrong file fails with the key that is wrong rather than
loading half a network.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

import torch
from torch import Tensor, nn


def read_state_dict(path: Path, what: str) -> Mapping:
    """The state dict stored in ``path`` (``torch.load`` with ``weights_only``), on the CPU.

    Raises
    ------
    ValueError
        Not a torch file, or not a mapping; the message names ``what`` was expected.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as error:
        raise ValueError(f"{path} is not a torch state dict file: {error}") from error
    if not isinstance(state, Mapping):
        raise ValueError(f"{path} holds a {type(state).__name__}, not {what}")
    return state


def entry_problem(value: object, shape: torch.Size) -> str:
    """What is wrong with a state dict entry expected to be a tensor of ``shape`` ("" if nothing)."""
    if value is None:
        return "missing"
    if not isinstance(value, Tensor):
        return f"a {type(value).__name__}"
    if value.shape != shape:
        return f"shaped {tuple(value.shape)}"
    return ""


def load_checked(
    network: nn.Module,
    state: Mapping,
    path: Path,
    what: str,
    *,
    rename: Callable[[str], str] = lambda key: key,
    ignored: Collection[str] = (),
    strict: bool = True,
) -> nn.Module:
    """Load ``state`` into ``network`` after checking every key; returns it in eval mode, frozen.

    Parameters
    ----------
    network : nn.Module
    state : Mapping
        From :func:`read_state_dict`.
    path : Path
        The file, for messages.
    what : str
        What the file should be ("the FID Inception state dict"), for messages.
    rename : callable
        The file's key of each of the network's keys.
    ignored : collection of str
        File keys the network does not use (no error when ``strict``).
    strict : bool
        Also refuse keys of the file the network does not have.

    Raises
    ------
    ValueError
        A key missing, not a tensor or misshapen, or (``strict``) unknown; the message names it.
    """
    weights = {}
    for key, expected in network.state_dict().items():
        value = state.get(rename(key))
        if value is None and key.endswith("num_batches_tracked"):
            value = expected  # files saved before PyTorch 0.4.1 lack these counters
        problem = entry_problem(value, expected.shape)
        if problem:
            raise ValueError(f"{path} is not {what}: {key} is {problem}, expected shape {tuple(expected.shape)}")
        weights[key] = value
    if strict:
        unknown = sorted(set(state) - {rename(key) for key in weights} - set(ignored))
        if unknown:
            raise ValueError(f"{path} is not {what}: unknown keys {unknown[:5]} ({len(unknown)} in all)")
    network.load_state_dict(weights)
    return network.eval().requires_grad_(False)
