"""Metrics of one clip shared by the tasks, as results that are missing (with the reason) when a
metric is not configured or its network cannot be loaded; the lip-sync scores of a task's videos."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from headgan_model.apps.clips import Clip
from headgan_model.evaluate.networks import MetricUnavailable, Networks
from headgan_model.metrics.csim import csim
from headgan_model.metrics.keypoints import akd
from headgan_model.metrics.lip_sync import SyncScore, lse_results, sync_score
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


def clip_akd(networks: Networks, real: np.ndarray, generated: np.ndarray) -> MetricResult:
    """AKD of ``(T, H, W, 3)`` generated frames against their ground truth
    (:func:`headgan_model.metrics.keypoints.akd`); ``details["pairs"]`` counts the pairs it averages."""
    if not networks.settings.computes("AKD"):
        return MetricResult.unavailable("AKD", NOT_COMPUTED)
    try:
        detector = networks.keypoints()
    except MetricUnavailable as error:
        return MetricResult.unavailable("AKD", str(error))
    return akd(generated, real, detector)


class SyncSet:
    """LSE-D and LSE-C of a task's videos, added video by video (:mod:`headgan_model.metrics.lip_sync`).

    A video without audio, or shorter than one SyncNet window, is left out with its reason (a
    warning in the results); without the SyncNet weights both metrics are missing, naming the file.
    """

    def __init__(self, networks: Networks):
        self.networks, self.scores, self.left_out = networks, [], {}
        settings = networks.settings
        self.reason = None if settings.computes("LSE-D") or settings.computes("LSE-C") else NOT_COMPUTED
        if self.reason is None:
            try:
                networks.syncnet()
            except MetricUnavailable as error:
                self.reason = str(error)

    def add(self, name: str, generated: np.ndarray, audio: Clip) -> SyncScore | None:
        """The sync of one video's ``(T, H, W, 3)`` uint8 frames with the 16 kHz track of the clip
        ``audio`` (read only when measured); None when not measured (not computed, no audio, too short)."""
        if self.reason is not None:
            return None
        samples, sample_rate = audio.waveform
        if len(samples) == 0:
            self.left_out[name] = "no audio"
            return None
        try:
            score = sync_score(
                generated, samples, self.networks.syncnet(), sample_rate=sample_rate, device=self.networks.device
            )
        except ValueError as error:
            self.left_out[name] = str(error)
            return None
        self.scores.append(score)
        return score

    def results(self) -> dict[str, MetricResult]:
        """``{"LSE-D": …, "LSE-C": …}`` over the videos added (a metric not in ``evaluate.metrics`` not computed)."""
        if self.reason is not None:
            distance, confidence = (MetricResult.unavailable(name, self.reason) for name in ("LSE-D", "LSE-C"))
        else:
            distance, confidence = lse_results(self.scores, self.left_out)
        settings = self.networks.settings
        return {
            "LSE-D": distance if settings.computes("LSE-D") else MetricResult.unavailable("LSE-D", NOT_COMPUTED),
            "LSE-C": confidence if settings.computes("LSE-C") else MetricResult.unavailable("LSE-C", NOT_COMPUTED),
        }
