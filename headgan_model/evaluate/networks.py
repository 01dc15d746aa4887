"""The networks the metrics run, loaded once per job, and the reason when one cannot be.

A metric whose weights file (or program) is missing is not an error of the evaluation: its network
raises :class:`MetricUnavailable` with the loader's message (which names the file and where to get
it), the task reports that metric missing with this reason and computes the others.
:attr:`Networks.files` lists every weights file a loaded network read, for the protocol.
"""

from __future__ import annotations

from pathlib import Path

import torch

from headgan_model.evaluate.settings import EvaluateSettings
from headgan_model.metrics.csim import ArcFaceEmbedder, make_embedder
from headgan_model.metrics.fid import FIDInception, FIDWeightsMissing, load_fid_inception
from headgan_model.metrics.fvd import load_fvd_network
from headgan_model.metrics.head_pose import HeadPoseEstimator, make_head_pose_estimator
from headgan_model.metrics.i3d import I3D_CHECKPOINT, InceptionI3d
from headgan_model.metrics.keypoints import KeypointDetector
from headgan_model.metrics.lpips import BACKBONES, LPIPSNetwork, load_lpips
from headgan_model.metrics.syncnet import SyncNet, SyncNetWeightsMissing, load_syncnet
from headgan_prep.fit.algorithm import FitConfig
from headgan_prep.ingest.detect import detector_model_path
from headgan_prep.landmarks.shard import LandmarksConfig, make_landmarker
from headgan_prep.models.registry import ModelFileMissing
from headgan_prep.morphable.model import MorphableModelError


class MetricUnavailable(Exception):
    """A metric's network cannot be loaded; ``str(error)`` is the reason the tables print."""


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when a GPU is available, else ``cpu``; other values unchanged."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class Networks:
    """Lazily loaded metric networks of one configuration.

    Parameters
    ----------
    settings : EvaluateSettings
    models_dir : Path
        The models folder (``models.dir``).
    morphable_model : Path, optional
        The 3DMM the clips were fitted with (ARD and ARE fit it to generated frames; the report
        hashes it into the protocol).
    landmarks, fit : LandmarksConfig, FitConfig, optional
        The preprocessing's settings, so that head angles (and AKD's keypoints) are measured as
        the stores' were.

    Attributes
    ----------
    device : str
        Where LPIPS, FID and I3D run.
    files : dict[str, Path]
        Weights file of every loaded network, by its path relative to the models folder (or as
        configured when absolute); SyncNet's also when it is missing (the protocol says so).
    """

    def __init__(
        self,
        settings: EvaluateSettings,
        models_dir: Path,
        morphable_model: Path | None = None,
        landmarks: LandmarksConfig | None = None,
        fit: FitConfig | None = None,
    ):
        self.settings, self.models_dir = settings, Path(models_dir)
        self.morphable_model, self.landmarks, self.fit = (
            morphable_model,
            landmarks or LandmarksConfig(),
            fit or FitConfig(),
        )
        self.device = resolve_device(settings.device)
        self.files: dict[str, Path] = {}
        self._loaded: dict[str, object] = {}

    def _load(self, name: str, loader, files: list[str]):
        if name not in self._loaded:
            try:
                self._loaded[name] = loader()
            except (ModelFileMissing, FIDWeightsMissing, SyncNetWeightsMissing, MorphableModelError, ValueError) as error:
                self._loaded[name] = MetricUnavailable(str(error))
            else:
                self.files.update({relative: self._path(relative) for relative in files})
        value = self._loaded[name]
        if isinstance(value, MetricUnavailable):
            raise value
        return value

    def _path(self, relative: str) -> Path:
        path = Path(relative)
        return path if path.is_absolute() else self.models_dir / relative

    def lpips(self) -> LPIPSNetwork:
        net = self.settings.lpips.net
        backbone = BACKBONES[net]
        files = [backbone.backbone_file, backbone.linear_file]
        return self._load("LPIPS", lambda: load_lpips(self.models_dir, net), files)

    def fid(self) -> FIDInception:
        weights = self.settings.fid.weights
        return self._load("FID", lambda: load_fid_inception(self._path(weights)), [weights])

    def i3d(self) -> InceptionI3d:
        return self._load("FVD", lambda: load_fvd_network(self.models_dir), [I3D_CHECKPOINT])

    def embedder(self) -> ArcFaceEmbedder:
        csim = self.settings.csim
        files = [csim.model, detector_model_path("insightface", csim.detector)]
        return self._load("CSIM", lambda: make_embedder(self.models_dir, csim.model, csim.detector), files)

    def syncnet(self) -> SyncNet:
        weights = self.settings.syncnet.weights
        self.files.setdefault(weights, self._path(weights))
        return self._load("LSE", lambda: load_syncnet(self._path(weights)), [weights])

    def _landmark_files(self) -> list[str]:
        return [self.landmarks.model_path, detector_model_path(self.landmarks.backend, self.landmarks.detector_model)]

    def keypoints(self) -> KeypointDetector:
        """AKD's keypoints: the landmarks stage's backend and ``min_score``."""
        loader = lambda: KeypointDetector(  # noqa: E731
            make_landmarker(self.landmarks, self.models_dir), self.landmarks.min_score
        )
        return self._load("keypoints", loader, self._landmark_files())

    def head_pose(self) -> HeadPoseEstimator:
        if self.morphable_model is None:
            raise MetricUnavailable("no morphable model given: head angles need the 3DMM the clips were fitted with")
        files = self._landmark_files()
        loader = lambda: make_head_pose_estimator(
            self.models_dir, self.morphable_model, self.landmarks, self.fit
        )  # noqa: E731
        return self._load("head pose", loader, files)
