"""Evaluation settings: the ``evaluate:`` section of ``config.yaml`` as frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field

from headgan_model.metrics.csim import ARCFACE_MODEL
from headgan_model.metrics.fid import FID_WEIGHTS_FILE
from headgan_model.metrics.fvd import FVD_FRAMES
from headgan_model.metrics.syncnet import SYNCNET_WEIGHTS
from headgan_prep.settings import StageSettings

METRICS = ("L1", "PSNR", "SSIM", "LPIPS", "FID", "FVD", "CSIM", "ARD", "AU-H", "ARE", "AKD", "LSE-D", "LSE-C")
"""Every metric the evaluation can compute, by its name in the tables (AKD, LSE-D and LSE-C beyond the paper)."""
DEVICES = ("auto", "cuda", "cpu")


class EvaluateConfigError(ValueError):
    """The ``evaluate:`` section of the configuration is invalid."""


@dataclass(frozen=True)
class LpipsSettings:
    """LPIPS network: ``alex`` (the usual choice) or ``vgg``."""

    net: str = "alex"


@dataclass(frozen=True)
class CsimSettings:
    """CSIM's ArcFace network and face detector, paths relative to the models folder.

    Attributes
    ----------
    model : str
        ``insightface/w600k_mbf.onnx`` (MobileFaceNet, on PyPI) or ``insightface/w600k_r50.onnx``
        (ResNet-50 of ``buffalo_l``, the usual choice; brought by the user).
    detector : str or None
        SCRFD file name under ``insightface/``; None: the pipeline's default SCRFD-500M.
    """

    model: str = ARCFACE_MODEL
    detector: str | None = None


@dataclass(frozen=True)
class FidSettings:
    """FID's Inception weights: a path relative to the models folder, or absolute."""

    weights: str = FID_WEIGHTS_FILE


@dataclass(frozen=True)
class FvdSettings:
    """FVD clip length in frames (16: the StyleGAN-V protocol)."""

    frames: int = FVD_FRAMES


@dataclass(frozen=True)
class SyncNetSettings:
    """LSE-D / LSE-C's SyncNet weights (``syncnet_v2.model``): a path relative to the models folder, or absolute."""

    weights: str = SYNCNET_WEIGHTS


@dataclass(frozen=True)
class OpenFaceSettings:
    """OpenFace 2.x ``FeatureExtraction`` binary of AU-H; None looks it up on ``PATH``."""

    binary: str | None = None


@dataclass(frozen=True)
class EvaluateSettings(StageSettings):
    """What the evaluation computes and with which networks.

    Attributes
    ----------
    metrics : list of str
        Metrics computed (of :data:`METRICS`); the others are reported as not computed.
    device : str
        ``auto`` (CUDA when available), ``cuda`` or ``cpu``: where the networks run.
    batch : int
        Frames per forward pass of LPIPS and FID (clips of I3D: a quarter of it, at least 1).
    seed : int
        Seeds the frontalised frame drawn per test video and the real videos' FVD clip starts.
    runs : list of str
        Other runs (``results/eval/{run}/metrics.json``) put side by side with this one in Table 3.
    lpips, csim, fid, fvd, syncnet, openface : dataclasses
    """

    section = "evaluate"
    error = EvaluateConfigError

    metrics: list = field(default_factory=lambda: list(METRICS))
    device: str = "auto"
    batch: int = 16
    seed: int = 0
    runs: list = field(default_factory=list)
    lpips: LpipsSettings = field(default_factory=LpipsSettings)
    csim: CsimSettings = field(default_factory=CsimSettings)
    fid: FidSettings = field(default_factory=FidSettings)
    fvd: FvdSettings = field(default_factory=FvdSettings)
    syncnet: SyncNetSettings = field(default_factory=SyncNetSettings)
    openface: OpenFaceSettings = field(default_factory=OpenFaceSettings)

    def __post_init__(self):
        unknown = sorted(set(self.metrics) - set(METRICS))
        if unknown:
            raise EvaluateConfigError(f"evaluate.metrics: unknown metric(s) {unknown}; known: {', '.join(METRICS)}")
        if self.device not in DEVICES:
            raise EvaluateConfigError(f"evaluate.device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.batch < 1:
            raise EvaluateConfigError(f"evaluate.batch must be ≥ 1, got {self.batch}")
        if self.lpips.net not in ("alex", "vgg"):
            raise EvaluateConfigError(f"evaluate.lpips.net must be alex or vgg, got {self.lpips.net!r}")
        if self.fvd.frames < 9:
            raise EvaluateConfigError(f"evaluate.fvd.frames must be ≥ 9 (what I3D needs), got {self.fvd.frames}")

    def computes(self, metric: str) -> bool:
        """Whether ``metric`` is one of :attr:`metrics`."""
        return metric in self.metrics
