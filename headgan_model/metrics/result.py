"""The result of one metric: a value, or the reason it is missing, with warnings for the tables."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MetricResult:
    """One metric's score and what a table must print next to it.

    Attributes
    ----------
    name : str
        Metric name as in the tables (``FVD``, ``CSIM``, ``AU-H``, ``ARD``, ``ARE``).
    value : float or None
        The score; None when the metric could not be computed (then ``missing`` says why).
    warnings : tuple[str, ...]
        Conditions that make the value not comparable to the protocol (e.g. FVD on fewer than 16
        frames); empty when the protocol was followed.
    missing : str or None
        Why there is no value (a weights file or binary not found, too few frames); None otherwise.
    details : dict[str, float]
        Further numbers of the same measurement (e.g. per-axis angles), for the per-clip CSV.
    """

    name: str
    value: float | None
    warnings: tuple[str, ...] = ()
    missing: str | None = None
    details: dict[str, float] = field(default_factory=dict)

    def __post_init__(self):
        if (self.value is None) == (self.missing is None):
            raise ValueError(f"{self.name}: give either a value or the reason it is missing, not both or neither")

    @classmethod
    def unavailable(cls, name: str, reason: str) -> MetricResult:
        """A metric that could not be computed, with the reason (never a 0)."""
        return cls(name, None, missing=reason)
