"""Metrics of one clip shared by the tasks, as results that are missing (with the reason) when a
metric is not configured or its network cannot be loaded."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from headgan_model.evaluate.networks import MetricUnavailable, Networks
from headgan_model.metrics.csim import csim
from headgan_model.metrics.result import MetricResult

NOT_COMPUTED = "not computed (not in evaluate.metrics)"


def frame_metric(name: str, enabled: bool, compute: Callable[[], np.ndarray]) -> MetricResult:
    """A per-frame metric of one clip: the mean of the ``(T,)`` values ``compute`` gives, or missing
    (not ``enabled``, or ``compute`` raised :class:`MetricUnavailable`)."""
    if not enabled:
        return MetricResult.unavailable(name, NOT_COMPUTED)
    try:
        values = compute()
    except MetricUnavailable as error:
        return MetricResult.unavailable(name, str(error))
    return MetricResult(name, float(values.mean()))


def clip_csim(networks: Networks, reference: np.ndarray, generated: np.ndarray) -> MetricResult:
    """CSIM of ``(T, H, W, 3)`` generated frames against ``(T, …)`` ground-truth frames or a
    ``(1, …)`` reference image (:func:`headgan_model.metrics.csim.csim`); ``details["pairs"]``
    counts the pairs it averages."""
    if not networks.settings.computes("CSIM"):
        return MetricResult.unavailable("CSIM", NOT_COMPUTED)
    try:
        embedder = networks.embedder()
    except MetricUnavailable as error:
        return MetricResult.unavailable("CSIM", str(error))
    return csim(reference, generated, embedder)
