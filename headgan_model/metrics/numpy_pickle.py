"""Loading pickled numpy arrays without running arbitrary code.

Weights converted from JAX ports ship as pickles of nested dicts of numpy arrays. A plain
``pickle.load`` would call any global the file names; :func:`load_numpy_pickle` allows only the
three globals numpy's array pickling uses.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

_RECONSTRUCT = np.ndarray(0).__reduce__()[0]
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a numpy weights pickle") from None


def load_numpy_pickle(path: str | Path):
    """Unpickle ``path``, allowing only numpy arrays and dtypes (plus dicts, lists, strings, numbers).

    Raises
    ------
    pickle.UnpicklingError
        The file names any other global (a class or function to call).
    """
    with open(path, "rb") as f:
        return _NumpyOnlyUnpickler(f).load()
