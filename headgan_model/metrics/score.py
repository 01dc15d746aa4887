"""A metric's value together with the caveats that must be printed beside it.

A metric computed on too little data (FID from fewer samples than feature dimensions, FVD from
clips shorter than its network's input) still has a value, but one that is biased and not
comparable to published numbers. Such metrics return a :class:`Score`, whose ``warnings`` the
evaluation writes into its tables next to the value, instead of warning on stderr where no table
reader would see it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Score:
    """A metric value and its caveats.

    Attributes
    ----------
    value : float
        The metric's value, in the metric's units.
    warnings : tuple[str, ...]
        One sentence per caveat (empty when the value was computed as the protocol wants).
    """

    value: float
    warnings: tuple[str, ...] = ()
