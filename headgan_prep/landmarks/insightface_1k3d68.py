"""insightface's dense 3D face points (``1k3d68.onnx`` of the ``buffalo_l`` pack), batched.

The model regresses 1103 3D points from a 192 × 192 face crop: the first 1035 are dense points
(HeadGAN's official code matches them to LSFM vertices), the last 68 the iBUG landmarks. Input and
output handling follow ``insightface.model_zoo.landmark.Landmark`` (insightface 0.7):

* crop: centre on the face box, scale ``192 / (1.5 · longer box side)``, no rotation
  (``face_align.transform``: ``cv2.warpAffine``, bilinear, black border);
* input: RGB (insightface gives ``cv2.dnn.blobFromImage`` its BGR image with ``swapRB=True``), as
  ``(pixel - mean) / std``, with ``mean, std = 0, 1`` for models converted from MXNet (a
  ``bn_data`` node, or ``Sub``/``_minus`` and ``Mul``/``_mul`` nodes among the first eight) and
  ``127.5, 128`` otherwise (:func:`input_normalisation`);
* output ``v`` (1103 × 3, about [-1, 1]): ``x, y = (v + 1) · 96`` and ``z = v · 96`` in crop
  pixels, then the inverse crop transform (``z`` divided by the crop scale).

insightface works in OpenCV's pixel convention (pixel centres at integer coordinates); points are
returned in the continuous convention of :mod:`headgan_prep.ingest.detect` (half a pixel added).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

N_POINTS = 1103
BOX_SCALE = 1.5
"""Crop side over the longer side of the face box (``Landmark.get``)."""


def input_normalisation(model) -> tuple[float, float]:
    """``(mean, std)`` of the model input, by insightface's rule (module docstring).

    Parameters
    ----------
    model : onnx.ModelProto
    """
    find_sub = find_mul = False
    for index, node in enumerate(model.graph.node[:8]):
        if node.name.startswith(("Sub", "_minus")):
            find_sub = True
        if node.name.startswith(("Mul", "_mul")):
            find_mul = True
        if index < 3 and node.name == "bn_data":
            find_sub = find_mul = True
    return (0.0, 1.0) if find_sub and find_mul else (127.5, 128.0)


def crop_matrices(boxes: np.ndarray, size: int) -> np.ndarray:
    """``(T, 2, 3)`` float64 affine maps frame → model input (OpenCV convention), one per box.

    Parameters
    ----------
    boxes : np.ndarray
        ``(T, 4)`` ``[x0, y0, x1, y1]`` face boxes, pixels.
    size : int
        Model input side, pixels.
    """
    boxes = np.asarray(boxes, np.float64)
    scale = size / (BOX_SCALE * np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]))
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    matrices = np.zeros((len(boxes), 2, 3))
    matrices[:, 0, 0] = matrices[:, 1, 1] = scale
    matrices[:, :, 2] = size / 2 - scale[:, None] * centre
    return matrices


class DenseLandmarks3D:
    """An insightface 3D landmark ONNX model (1103 points: output width 3309) run in batches.

    Parameters
    ----------
    model_path : Path
        ONNX file with one input ``(N, 3, S, S)`` and one output ``(N, 3309)``.
    threads : int
        ONNX Runtime intra-op threads.
    batch_size : int
        Frames per session run when the model's batch dimension is dynamic; 1 when it is fixed.
    providers : list[str] or None
        ONNX Runtime execution providers; None: CUDA first when available, then CPU.
    """

    def __init__(self, model_path: Path, *, threads: int = 1, batch_size: int = 32, providers: list[str] | None = None):
        import onnx
        import onnxruntime

        from headgan_prep.ingest.detect import default_providers

        self.mean, self.std = input_normalisation(onnx.load(str(model_path), load_external_data=False))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(
            str(model_path), sess_options=options, providers=list(providers or default_providers())
        )
        (inp,) = self.session.get_inputs()
        (out,) = self.session.get_outputs()
        if len(inp.shape) != 4 or inp.shape[1] != 3 or out.shape[-1] != 3 * N_POINTS:
            raise ValueError(
                f"{model_path}: expected input (N, 3, S, S) and output (N, {3 * N_POINTS}), "
                f"got {inp.shape} and {out.shape}"
            )
        self.input_name = inp.name
        self.size = int(inp.shape[2])
        self.batch_size = batch_size if not isinstance(inp.shape[0], int) else inp.shape[0]

    def run(self, frames: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """The 1103 points of the face in each box.

        Parameters
        ----------
        frames : np.ndarray
            ``(T, H, W, 3)`` uint8 RGB.
        boxes : np.ndarray
            ``(T, 4)`` face boxes ``[x0, y0, x1, y1]``, pixels.

        Returns
        -------
        np.ndarray
            ``(T, 1103, 3)`` float32: ``x, y`` frame pixels, ``z`` in the same unit.
        """
        size = self.size
        matrices = crop_matrices(boxes, size)
        crops = np.empty((len(frames), size, size, 3), np.uint8)
        for i, frame in enumerate(frames):
            cv2.warpAffine(frame, matrices[i], (size, size), dst=crops[i], borderValue=0.0)
        raw = np.empty((len(frames), 3 * N_POINTS), np.float32)
        for start in range(0, len(frames), self.batch_size):
            batch = crops[start : start + self.batch_size].transpose(0, 3, 1, 2).astype(np.float32)
            batch = (batch - np.float32(self.mean)) * np.float32(1 / self.std)
            raw[start : start + len(batch)] = self.session.run(None, {self.input_name: batch})[0]
        points = raw.reshape(len(frames), N_POINTS, 3).astype(np.float64)
        half = size // 2
        points[..., :2] = (points[..., :2] + 1) * half
        points[..., 2] *= half
        inverse = np.linalg.inv(matrices[:, :, :2])
        xy = (points[..., :2] - matrices[:, None, :, 2]) @ inverse.transpose(0, 2, 1) + 0.5
        z = points[..., 2:] / matrices[:, 0, 0, None, None]
        return np.concatenate([xy, z], axis=-1).astype(np.float32)
