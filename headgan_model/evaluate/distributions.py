"""Set-level metrics gathered clip by clip: FID (frame features) and FVD (one clip per video).

Holding a whole test split's frames in memory is not needed for either: FID keeps the 2048-d
features of each frame, FVD the one window of each video that the protocol uses (the real video's
window starts at a seeded random frame, the generated one's at frame 0, as StyleGAN-V). Both report
a warning when the sets are too small for their protocol (see :mod:`headgan_model.metrics.fid`,
:mod:`headgan_model.metrics.fvd`) and are missing, with the reason, when their network is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from headgan_model.evaluate.networks import MetricUnavailable, Networks
from headgan_model.metrics.fid import fid_features
from headgan_model.metrics.frechet import FeatureStatistics, frechet_distance
from headgan_model.metrics.fvd import clip_starts, fvd
from headgan_model.metrics.i3d import MIN_FRAMES
from headgan_model.metrics.result import MetricResult


class FidSet:
    """FID features of generated and real frames, added clip by clip.

    Parameters
    ----------
    networks : Networks
    enabled : bool
        False: the metric is not computed (``evaluate.metrics``).
    """

    def __init__(self, networks: Networks, enabled: bool = True):
        self.networks, self.generated, self.real = networks, [], []
        self.reason = None if enabled else "not computed (not in evaluate.metrics)"
        if self.reason is None:
            try:
                networks.fid()
            except MetricUnavailable as error:
                self.reason = str(error)

    def add(self, generated: np.ndarray, real: np.ndarray) -> None:
        """Frames ``(N, H, W, 3)`` and ``(M, H, W, 3)`` uint8 of one clip."""
        if self.reason is None:
            network, options = self.networks.fid(), {
                "device": self.networks.device,
                "batch_size": self.networks.settings.batch,
            }
            self.generated.append(fid_features(generated, network, **options))
            self.real.append(fid_features(real, network, **options))

    def result(self) -> MetricResult:
        """FID of everything added (missing without the network or with fewer than 2 frames a side)."""
        if self.reason is not None:
            return MetricResult.unavailable("FID", self.reason)
        counts = (sum(map(len, self.generated)), sum(map(len, self.real)))
        if min(counts) < 2:
            return MetricResult.unavailable(
                "FID", f"needs at least 2 frames a side, got {counts[0]} generated and {counts[1]} real"
            )
        first = FeatureStatistics.of(np.concatenate(self.generated))
        second = FeatureStatistics.of(np.concatenate(self.real))
        result = frechet_distance(first, second, name="FID")
        return MetricResult(
            "FID", result.value, result.warnings, details={"generated": float(counts[0]), "real": float(counts[1])}
        )


class FvdSet:
    """The FVD windows of real and generated videos, added video by video.

    Parameters
    ----------
    networks : Networks
    lengths : sequence of int
        Frames of every real video that will be added, in order (the windows' start frames are
        drawn for all of them at once, as :func:`headgan_model.metrics.fvd.clip_starts` does).
    enabled : bool
    """

    def __init__(self, networks: Networks, lengths: Sequence[int], enabled: bool = True):
        self.networks, self.real, self.generated = networks, [], []
        settings = networks.settings
        self.frames = min([settings.fvd.frames, *lengths])
        self.reason = None if enabled else "not computed (not in evaluate.metrics)"
        if self.reason is None and self.frames < MIN_FRAMES:
            self.reason = f"a video has {self.frames} frames, I3D needs at least {MIN_FRAMES}"
        self.starts = clip_starts(lengths, self.frames, True, settings.seed) if self.reason is None else None

    def add(self, generated: np.ndarray, real: np.ndarray) -> None:
        """The next pair of ``(T, H, W, 3)`` uint8 videos (in the order of ``lengths``)."""
        if self.reason is None:
            start = int(self.starts[len(self.real)])
            self.real.append(np.ascontiguousarray(real[start : start + self.frames]))
            self.generated.append(np.ascontiguousarray(generated[: self.frames]))

    def result(self) -> MetricResult:
        """FVD of the windows (warnings as :func:`headgan_model.metrics.fvd.fvd`)."""
        if self.reason is not None:
            return MetricResult.unavailable("FVD", self.reason)
        try:
            network = self.networks.i3d()
        except MetricUnavailable as error:
            return MetricResult.unavailable("FVD", str(error))
        batch = max(1, self.networks.settings.batch // 4)
        settings = self.networks.settings
        return fvd(
            self.real, self.generated, network=network, n_frames=settings.fvd.frames, seed=settings.seed,
            device=self.networks.device, batch_size=batch,
        )  # fmt: skip
