"""Face detection backends: MediaPipe BlazeFace (TFLite) and insightface SCRFD / RetinaFace (ONNX).

Every backend takes a batch of RGB frames and returns, per frame, the faces found as boxes,
scores and keypoints in pixel coordinates of the input frame, sorted by score (best first).
Coordinates are continuous: the frame covers ``[0, W] × [0, H]``, pixel ``(i, j)`` covers
``[j, j + 1] × [i, i + 1]``. Boxes and keypoints are not clipped to the frame.

``mediapipe``
    BlazeFace as in MediaPipe's ``face_detection_short_range`` / ``face_detection_full_range``
    graphs: letterbox to the model input, SSD anchors, box decoding, sigmoid scores and weighted
    non-maximum suppression re-implemented in numpy, vectorised over frames. 6 keypoints per face:
    right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion.
``insightface``
    Any detector that ``insightface.model_zoo.get_model`` loads as a face detector (SCRFD and
    RetinaFace ONNX files in insightface's output layout), run frame by frame. 5 keypoints per face
    when the model predicts them (right eye, left eye, nose tip, right and left mouth corner), none
    otherwise.

"Right" is the subject's right, which lies on the image's left for a frontal face.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from headgan_prep.models.registry import resolve_model

BACKENDS = ("mediapipe", "insightface")


@dataclass(frozen=True)
class Detections:
    """Faces found in one frame, sorted by score descending.

    Attributes
    ----------
    boxes : np.ndarray
        (K, 4) float32, ``[x0, y0, x1, y1]`` in pixels of the input frame.
    scores : np.ndarray
        (K,) float32 in [0, 1].
    keypoints : np.ndarray
        (K, P, 2) float32, ``(x, y)`` in pixels of the input frame; P = 6 for BlazeFace, 5 for
        insightface models with keypoints, 0 for models without.
    """

    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray

    @classmethod
    def empty(cls, n_keypoints: int) -> Detections:
        """No face, with ``n_keypoints`` keypoints per (absent) face."""
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0, n_keypoints, 2), np.float32))


class FaceDetector(abc.ABC):
    """A face detector working on batches of frames."""

    name: str

    @abc.abstractmethod
    def detect(self, frames: np.ndarray) -> list[Detections]:
        """Detect faces in every frame.

        Parameters
        ----------
        frames : np.ndarray
            (T, H, W, 3) uint8 RGB frames.

        Returns
        -------
        list[Detections]
            T entries, one per frame, each sorted by score descending.
        """


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected (T, H, W, 3) uint8 RGB frames, got {frames.shape} {frames.dtype}")
    return frames


# ----------------------------------------------------------------------------------------------
# MediaPipe BlazeFace
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlazeFaceConfig:
    """Options of MediaPipe's face detection graph for one BlazeFace model.

    Attributes
    ----------
    input_size : int
        Side of the square model input in pixels (``input_size_width/height``, also the
        ``x/y/w/h_scale`` of box decoding).
    strides : tuple[int, ...]
        ``strides`` of ``SsdAnchorsCalculatorOptions``, one per anchor layer.
    anchors_per_layer : int
        Anchors per location and layer: 1 for aspect ratio 1.0, plus 1 when
        ``interpolated_scale_aspect_ratio`` is non-zero (it defaults to 1.0).
    """

    input_size: int
    strides: tuple[int, ...]
    anchors_per_layer: int


BLAZEFACE_MODELS = {
    # face_detection_short_range.pbtxt: 4 layers, strides 8, 16, 16, 16, default interpolated anchor.
    "face_detection_short_range.tflite": BlazeFaceConfig(128, (8, 16, 16, 16), 2),
    # face_detection_full_range.pbtxt: 1 layer, stride 4, interpolated_scale_aspect_ratio 0.0.
    "face_detection_full_range_sparse.tflite": BlazeFaceConfig(192, (4,), 1),
}
BLAZEFACE_KEYPOINTS = 6
SCORE_CLIPPING_THRESH = 100.0


def feature_maps(config: BlazeFaceConfig) -> list[tuple[int, int]]:
    """Feature maps of MediaPipe's ``SsdAnchorsCalculator``: ``(side, anchors per location)``.

    Consecutive layers with the same stride share one feature map; per location their anchors
    follow each other.
    """
    maps = []
    layer = 0
    while layer < len(config.strides):
        stride = config.strides[layer]
        same = 1
        while layer + same < len(config.strides) and config.strides[layer + same] == stride:
            same += 1
        maps.append((math.ceil(config.input_size / stride), same * config.anchors_per_layer))
        layer += same
    return maps


def ssd_anchor_centres(config: BlazeFaceConfig) -> np.ndarray:
    """Anchor centres as generated by MediaPipe's ``SsdAnchorsCalculator``.

    Anchors have the fixed size 1.0 × 1.0 (``fixed_anchor_size: true``), so only their centres
    matter; the centre of cell ``(i, j)`` of a feature map is ``((j + 0.5) / side, (i + 0.5) / side)``.

    Returns
    -------
    np.ndarray
        (A, 2) float32 anchor centres ``(x, y)`` normalised to the model input ([0, 1]), in the
        order of the model's output rows.
    """
    centres = []
    for side, per_location in feature_maps(config):
        ys, xs = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
        grid = np.stack([(xs + 0.5) / side, (ys + 0.5) / side], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(grid, per_location, axis=1).reshape(-1, 2))
    return np.concatenate(centres).astype(np.float32)


def split_batched_output(value: np.ndarray, n_frames: int, group_sizes: list[int]) -> np.ndarray:
    """Reorder a BlazeFace output computed on a batch into per-frame rows.

    The models flatten each feature map's predictions over the batch before concatenating the
    feature maps, so a batch output holds all frames' rows of the first feature map, then all
    frames' rows of the next one.

    Parameters
    ----------
    value : np.ndarray
        (1, n_frames * A, C) raw output of one interpreter call.
    n_frames : int
        Frames in the call.
    group_sizes : list[int]
        Anchors per frame of each feature map (summing to A).

    Returns
    -------
    np.ndarray
        (n_frames, A, C), rows of each frame in anchor order.
    """
    rows = value.reshape(-1, value.shape[-1])
    bounds = np.cumsum([0] + [n_frames * size for size in group_sizes])
    return np.concatenate(
        [rows[a:b].reshape(n_frames, size, -1) for a, b, size in zip(bounds[:-1], bounds[1:], group_sizes)], axis=1
    )


@dataclass(frozen=True)
class Letterbox:
    """Uniform scale then offset that fits a W × H frame centred into an S × S model input.

    A frame point ``u`` (continuous pixel coordinates) lands at ``u * scale + offset`` in the
    model input.

    Attributes
    ----------
    scale : float
        Model input pixels per frame pixel.
    offset : tuple[float, float]
        ``(x, y)`` padding before the frame, in model input pixels.
    """

    scale: float
    offset: tuple[float, float]

    @classmethod
    def fit(cls, width: int, height: int, size: int) -> Letterbox:
        scale = size / max(width, height)
        return cls(scale, ((size - width * scale) / 2, (size - height * scale) / 2))

    def warp_matrix(self) -> np.ndarray:
        """(2, 3) float64 affine matrix for ``cv2.warpAffine`` (pixel-centre convention)."""
        shift = 0.5 * self.scale - 0.5
        return np.array(
            [[self.scale, 0.0, self.offset[0] + shift], [0.0, self.scale, self.offset[1] + shift]], np.float64
        )

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        """Map (..., 2) model input pixel coordinates ``(x, y)`` back to frame pixels."""
        return (points - np.asarray(self.offset, np.float32)) / np.float32(self.scale)


def letterbox_frames(frames: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox]:
    """Letterbox frames into the BlazeFace input as MediaPipe's ``ImageToTensorCalculator`` does.

    Keeps the aspect ratio, centres the frame, pads with black, samples bilinearly and scales
    RGB values to [-1, 1] (padding becomes -1).

    Parameters
    ----------
    frames : np.ndarray
        (T, H, W, 3) uint8 RGB.
    size : int
        Side of the square model input in pixels.

    Returns
    -------
    tuple[np.ndarray, Letterbox]
        (T, size, size, 3) float32 model input in [-1, 1], and the frame → input mapping.
    """
    n, height, width = frames.shape[:3]
    box = Letterbox.fit(width, height, size)
    matrix = box.warp_matrix()
    warped = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        cv2.warpAffine(
            frames[i], matrix, (size, size), dst=warped[i], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
    tensor = np.multiply(warped, np.float32(1 / 127.5), dtype=np.float32)
    np.subtract(tensor, np.float32(1.0), out=tensor)
    return tensor, box


def weighted_nms(
    boxes: np.ndarray, scores: np.ndarray, keypoints: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's WEIGHTED non-maximum suppression with intersection-over-union overlap.

    Repeatedly takes the best remaining detection and every remaining detection overlapping it
    with IoU > ``threshold`` (itself included), and replaces the group by the score-weighted mean
    of their boxes and keypoints, keeping the best score.

    Parameters
    ----------
    boxes : np.ndarray
        (K, 4) float32 ``[x0, y0, x1, y1]``, any unit.
    scores : np.ndarray
        (K,) float32.
    keypoints : np.ndarray
        (K, P, 2) float32, same unit as ``boxes``.
    threshold : float
        IoU above which detections are merged.

    Returns
    -------
    tuple[np.ndarray, np.ndarray, np.ndarray]
        Merged boxes (M, 4), scores (M,) and keypoints (M, P, 2), by score descending.
    """
    order = np.argsort(-scores, kind="stable")
    boxes, scores, keypoints = boxes[order], scores[order], keypoints[order]
    iou = _pairwise_iou(boxes)
    remaining = np.ones(len(scores), bool)
    kept_boxes, kept_scores, kept_keypoints = [], [], []
    for best in range(len(scores)):
        if not remaining[best]:
            continue
        group = remaining & (iou[best] > threshold)
        group[best] = True
        weights = scores[group] / scores[group].sum()
        kept_boxes.append(weights @ boxes[group])
        kept_keypoints.append(np.tensordot(weights, keypoints[group], axes=1))
        kept_scores.append(scores[best])
        remaining &= ~group
    return (
        np.asarray(kept_boxes, np.float32).reshape(-1, 4),
        np.asarray(kept_scores, np.float32),
        np.asarray(kept_keypoints, np.float32).reshape(-1, *keypoints.shape[1:]),
    )


def _pairwise_iou(boxes: np.ndarray) -> np.ndarray:
    """(K, K) intersection over union of (K, 4) ``[x0, y0, x1, y1]`` boxes (0 for empty unions)."""
    x0 = np.maximum(boxes[:, None, 0], boxes[None, :, 0])
    y0 = np.maximum(boxes[:, None, 1], boxes[None, :, 1])
    x1 = np.minimum(boxes[:, None, 2], boxes[None, :, 2])
    y1 = np.minimum(boxes[:, None, 3], boxes[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area[:, None] + area[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


class BlazeFaceDetector(FaceDetector):
    """MediaPipe BlazeFace through the LiteRT interpreter, MediaPipe's pre- and post-processing.

    Parameters
    ----------
    model_path : Path
        BlazeFace ``.tflite`` file; its name selects the :data:`BLAZEFACE_MODELS` options.
    score_threshold : float
        Minimum face score in [0, 1].
    nms_threshold : float
        IoU above which detections are merged by weighted NMS.
    threads : int
        LiteRT interpreter threads.
    batch_size : int
        Frames per interpreter call.
    """

    def __init__(
        self, model_path: Path, *, score_threshold: float, nms_threshold: float, threads: int, batch_size: int
    ):
        model_path = Path(model_path)
        if model_path.name not in BLAZEFACE_MODELS:
            raise ValueError(f"unknown BlazeFace model {model_path.name!r}; expected one of {sorted(BLAZEFACE_MODELS)}")
        self.name = f"mediapipe:{model_path.stem}"
        self.model_path = model_path
        self.config = BLAZEFACE_MODELS[model_path.name]
        self.anchors = ssd_anchor_centres(self.config)
        self.group_sizes = [side * side * per_location for side, per_location in feature_maps(self.config)]
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.threads = threads
        self.batch_size = batch_size
        self._interpreters: dict[int, object] = {}

    def _interpreter(self, batch: int):
        """LiteRT interpreter whose input is resized to ``batch`` frames (created once per size)."""
        if batch not in self._interpreters:
            from ai_edge_litert.interpreter import Interpreter

            interpreter = Interpreter(model_path=str(self.model_path), num_threads=self.threads)
            if batch != 1:
                size = self.config.input_size
                interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], [batch, size, size, 3])
            interpreter.allocate_tensors()
            self._interpreters[batch] = interpreter
        return self._interpreters[batch]

    def infer(self, tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run the model on a preprocessed batch.

        Parameters
        ----------
        tensor : np.ndarray
            (T, S, S, 3) float32 model input in [-1, 1].

        Returns
        -------
        tuple[np.ndarray, np.ndarray]
            Raw regressors (T, A, 16) float32 (box ``x, y, w, h`` then 6 keypoints ``x, y``, in
            model input pixels relative to the anchor centre) and raw score logits (T, A) float32.
        """
        n_anchors = len(self.anchors)
        regressors = np.empty((len(tensor), n_anchors, 4 + 2 * BLAZEFACE_KEYPOINTS), np.float32)
        logits = np.empty((len(tensor), n_anchors), np.float32)
        for start in range(0, len(tensor), self.batch_size):
            chunk = tensor[start : start + self.batch_size]
            interpreter = self._interpreter(len(chunk))
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"], chunk)
            interpreter.invoke()
            for output in interpreter.get_output_details():
                value = split_batched_output(interpreter.get_tensor(output["index"]), len(chunk), self.group_sizes)
                if value.shape[-1] == 1:
                    logits[start : start + len(chunk)] = value[..., 0]
                else:
                    regressors[start : start + len(chunk)] = value
        return regressors, logits

    def detect(self, frames: np.ndarray) -> list[Detections]:
        frames = _check_frames(frames)
        if len(frames) == 0:
            return []
        tensor, box = letterbox_frames(frames, self.config.input_size)
        regressors, logits = self.infer(tensor)
        return self.postprocess(regressors, logits, box)

    def postprocess(self, regressors: np.ndarray, logits: np.ndarray, box: Letterbox) -> list[Detections]:
        """Decode raw model outputs into detections in frame pixels.

        Parameters
        ----------
        regressors : np.ndarray
            (T, A, 16) float32 raw regressors, see :meth:`infer`.
        logits : np.ndarray
            (T, A) float32 raw score logits.
        box : Letterbox
            Mapping from the frames to the model input.

        Returns
        -------
        list[Detections]
            T entries, one per frame.
        """
        clipped = np.clip(logits, -SCORE_CLIPPING_THRESH, SCORE_CLIPPING_THRESH)
        scores = 0.5 + 0.5 * np.tanh(0.5 * clipped)  # sigmoid, without overflow
        frame_index, anchor_index = np.nonzero(scores >= self.score_threshold)
        size = np.float32(self.config.input_size)
        raw = regressors[frame_index, anchor_index]
        centres = self.anchors[anchor_index] * size
        middle = raw[:, :2] + centres
        half = raw[:, 2:4] / 2
        corners = box.to_frame(np.stack([middle - half, middle + half], axis=1)).reshape(-1, 4)
        keypoints = box.to_frame(raw[:, 4:].reshape(-1, BLAZEFACE_KEYPOINTS, 2) + centres[:, None, :])
        candidate_scores = scores[frame_index, anchor_index].astype(np.float32)
        bounds = np.searchsorted(frame_index, np.arange(len(logits) + 1))
        results = []
        for start, stop in zip(bounds[:-1], bounds[1:]):
            if start == stop:
                results.append(Detections.empty(BLAZEFACE_KEYPOINTS))
                continue
            merged = weighted_nms(
                corners[start:stop], candidate_scores[start:stop], keypoints[start:stop], self.nms_threshold
            )
            results.append(Detections(*merged))
        return results


# ----------------------------------------------------------------------------------------------
# insightface
# ----------------------------------------------------------------------------------------------

INSIGHTFACE_MAX_INPUT = 640


def auto_input_size(height: int, width: int) -> int:
    """Default square detector input: the frame's longer side rounded up to 32, at most 640 px."""
    return min(INSIGHTFACE_MAX_INPUT, -(-max(height, width) // 32) * 32)


def default_providers() -> list[str]:
    """ONNX Runtime providers: CUDA first when this onnxruntime build has it, then CPU."""
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class InsightFaceDetector(FaceDetector):
    """An insightface face detector (SCRFD or RetinaFace ONNX file) loaded by its model zoo.

    Parameters
    ----------
    model_path : Path
        ONNX file in insightface's detector output layout.
    score_threshold : float
        Minimum face score in [0, 1].
    nms_threshold : float
        IoU above which the lower-scored detection is dropped.
    input_size : int or None
        Side of the square detector input in pixels (a multiple of 32); None picks
        :func:`auto_input_size` from the frame size.
    threads : int
        ONNX Runtime intra-op threads.
    providers : list[str] or None
        ONNX Runtime execution providers; None picks :func:`default_providers`.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        score_threshold: float,
        nms_threshold: float,
        input_size: int | None,
        threads: int,
        providers: list[str] | None,
    ):
        import onnxruntime
        from insightface.model_zoo import get_model

        if input_size is not None and (input_size <= 0 or input_size % 32):
            raise ValueError(f"input_size must be a positive multiple of 32, got {input_size}")
        providers = list(providers) if providers is not None else default_providers()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        self.model = get_model(str(model_path), providers=providers, sess_options=options)
        if getattr(self.model, "taskname", None) != "detection":
            raise ValueError(f"{model_path} is not a face detector insightface can load (got {type(self.model)})")
        self.name = f"insightface:{Path(model_path).stem}"
        self.input_size = input_size
        ctx_id = 0 if providers[0] == "CUDAExecutionProvider" else -1
        size = input_size or INSIGHTFACE_MAX_INPUT
        self.model.prepare(ctx_id, input_size=(size, size), det_thresh=score_threshold, nms_thresh=nms_threshold)
        self.n_keypoints = 5 if self.model.use_kps else 0

    def detect(self, frames: np.ndarray) -> list[Detections]:
        frames = _check_frames(frames)
        size = self.input_size or auto_input_size(*frames.shape[1:3])
        return [self._detect_one(frame, size) for frame in frames]

    def _detect_one(self, frame: np.ndarray, size: int) -> Detections:
        det, kps = self.model.detect(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), input_size=(size, size))
        if len(det) == 0:
            return Detections.empty(self.n_keypoints)
        keypoints = kps if kps is not None else np.zeros((len(det), 0, 2))
        return Detections(
            det[:, :4].astype(np.float32), det[:, 4].astype(np.float32), np.asarray(keypoints, np.float32)
        )


# ----------------------------------------------------------------------------------------------


def blazeface_batch_size(threads: int) -> int:
    """Frames per BlazeFace interpreter call.

    With one thread, batching gives no gain (≈940 → 860 frames/s at batch 4 for the short-range
    model); with two threads, batch 4 runs ≈1.5× faster than batch 1, so batches grow with the
    thread count.
    """
    return 1 if threads == 1 else 2 * threads


DEFAULT_MODELS = {"mediapipe": "face_detection_short_range.tflite", "insightface": "scrfd_500m_bnkps.onnx"}


def detector_model_path(backend: str, model: str | None = None) -> str:
    """Model file of a detector, relative to the models folder (``{backend}/{file}``).

    Raises
    ------
    ValueError
        Unknown backend, or a BlazeFace model other than the short- and full-range ones.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown detection backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    model = model or DEFAULT_MODELS[backend]
    if backend == "mediapipe" and model not in BLAZEFACE_MODELS:
        raise ValueError(f"unknown BlazeFace model {model!r}; expected one of {sorted(BLAZEFACE_MODELS)}")
    return f"{backend}/{model}"


def make_detector(
    backend: str,
    models_dir,
    *,
    model: str | None = None,
    score_threshold: float = 0.5,
    nms_threshold: float = 0.3,
    input_size: int | None = None,
    threads: int = 1,
    providers: list[str] | None = None,
) -> FaceDetector:
    """Build a face detector.

    Parameters
    ----------
    backend : str
        ``"mediapipe"`` (BlazeFace) or ``"insightface"`` (SCRFD / RetinaFace).
    models_dir : str or Path
        Folder holding the model files (layout of ``headgan-prep fetch-models``).
    model : str or None
        Model file name inside ``models_dir/<backend>/``. Defaults:
        ``face_detection_short_range.tflite`` (mediapipe; also
        ``face_detection_full_range_sparse.tflite``) and ``scrfd_500m_bnkps.onnx`` (insightface;
        also e.g. ``det_10g.onnx``, ``scrfd_10g_bnkps.onnx``).
    score_threshold : float
        Minimum face score in [0, 1].
    nms_threshold : float
        IoU threshold of non-maximum suppression.
    input_size : int or None
        insightface only: square detector input side in pixels, a multiple of 32 (default: the
        frame's longer side rounded up to 32, at most 640). BlazeFace inputs are fixed by the model.
    threads : int
        CPU threads of the interpreter / ONNX Runtime session.
    providers : list[str] or None
        insightface only: ONNX Runtime execution providers (default: CUDA when available, then CPU).

    Raises
    ------
    ValueError
        Unknown backend or model.
    headgan_prep.models.registry.ModelFileMissing
        The model file is not in ``models_dir``.
    """
    path = resolve_model(models_dir, detector_model_path(backend, model))
    if backend == "mediapipe":
        return BlazeFaceDetector(
            path,
            score_threshold=score_threshold,
            nms_threshold=nms_threshold,
            threads=threads,
            batch_size=blazeface_batch_size(threads),
        )
    return InsightFaceDetector(
        path,
        score_threshold=score_threshold,
        nms_threshold=nms_threshold,
        input_size=input_size,
        threads=threads,
        providers=providers,
    )
