"""MediaPipe FaceMesh (468 3D face points) on crops, with MediaPipe's region of interest.

The region of interest (ROI) follows MediaPipe's ``face_detection_front_detection_to_roi`` graph
(``mediapipe/modules/face_landmark``), used by the face landmark graphs when they start from a
face detection:

* ``DetectionsToRectsCalculator``: the ROI centre is the centre of the BlazeFace box; its rotation
  is ``target_angle - atan2(-(y1 - y0), x1 - x0)`` with ``(x0, y0)`` BlazeFace keypoint 0 and
  ``(x1, y1)`` keypoint 1 (:data:`EYE_KEYPOINTS`) and target angle :data:`TARGET_ANGLE` (0): the
  rectangle is turned so that the line between the eyes is its x axis.
* ``RectTransformationCalculator`` with ``scale_x = scale_y = 1.5`` (:data:`ROI_SCALE`) and
  ``square_long: true``: the ROI is a square whose side is 1.5 times the box's longer side.

The face landmark graph then samples the rotated square into the 192 × 192 model input
(``ImageToTensorCalculator``: bilinear, border pixels repeated, RGB scaled to [0, 1]), and maps
the model's 468 ``(x, y, z)`` outputs back (``TensorsToLandmarksCalculator`` divides by the input
size, ``LandmarkProjectionCalculator`` rotates and scales them by the ROI, z by the ROI width):
``z`` is in the same units as ``x`` and ``y``, relative to the face's centre depth, smaller
(negative) towards the camera. The face-presence score is the sigmoid of the model's face-flag
output (``TensorsToFloatsCalculator``, activation ``SIGMOID``).

On a video (the solution's ``static_image_mode`` false, side packet ``use_prev_landmarks``), the
``face_landmark_front_cpu`` graph detects only when it has no face from the previous frame; otherwise
the previous frame's landmarks give the ROI (``PreviousLoopbackCalculator``) through
``face_landmark_landmarks_to_roi`` (:meth:`Roi.from_landmarks`):

* ``LandmarksToDetectionCalculator``: the box is the axis-aligned bounding box of the 468 points;
* ``DetectionsToRectsCalculator`` with ``rotation_vector_start_keypoint_index: 33``,
  ``rotation_vector_end_keypoint_index: 263`` (:data:`EYE_CORNER_POINTS`) and
  ``rotation_vector_target_angle_degrees: 0``: centre and rotation as above, with the outer eye
  corners in place of the BlazeFace eye keypoints;
* ``RectTransformationCalculator``: the same ``scale_x = scale_y = 1.5``, ``square_long: true``.

The face is lost when a frame's face-presence score is below the tracking threshold
(``ThresholdingCalculator`` and ``GateCalculator`` of ``face_landmark_cpu``, set by the solution's
``min_tracking_confidence``): no landmarks come out, and the next frame starts again from a
detection (:meth:`FaceMesh.track`).

Coordinates are continuous image coordinates (x right, y down; pixel ``(i, j)`` covers
``[j, j + 1] × [i, i + 1]``), as in :mod:`headgan_prep.ingest.detect`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

INPUT_SIZE = 192
"""Side of the square FaceMesh input, pixels."""
N_POINTS = 468
ROI_SCALE = 1.5
"""ROI side over the longer side of the face box (``RectTransformationCalculator`` scale)."""
TARGET_ANGLE = 0.0
"""``rotation_vector_target_angle_degrees`` of ``DetectionsToRectsCalculator``, radians."""
EYE_KEYPOINTS = (0, 1)
"""BlazeFace keypoints giving the rotation: 0 is the subject's right eye (on the image's left for a
frontal face), 1 the left eye; MediaPipe's graph comments call them "left" and "right" eye as seen
in the image."""
EYE_CORNER_POINTS = (33, 263)
"""FaceMesh vertices giving the rotation of a ROI from landmarks: the outer corners of the subject's
right eye (on the image's left for a frontal face) and left eye."""

IBUG68 = np.array(
    # jaw 0–16, from the subject's right (image left) to the left
    [127, 234, 132, 58, 172, 150, 149, 148, 152, 377, 378, 379, 397, 288, 361, 454, 356]
    # right brow 17–21, left brow 22–26 (outer to inner, inner to outer)
    + [70, 63, 105, 66, 107, 336, 296, 334, 293, 300]
    # nose bridge 27–30, lower nose 31–35
    + [168, 197, 5, 4, 98, 97, 2, 326, 327]
    # right eye 36–41, left eye 42–47 (outer corner, upper lid, inner corner, lower lid)
    + [33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380]
    # outer lips 48–59 (right corner, upper lip, left corner, lower lip), inner lips 60–67
    + [61, 39, 37, 0, 267, 269, 291, 321, 314, 17, 84, 91, 78, 82, 13, 312, 308, 317, 14, 87],
    np.int64,
)
"""FaceMesh vertex for each of the 68 iBUG / dlib landmarks (iBUG order).

The correspondence commonly used to get 68-point landmarks out of FaceMesh (the vertex picked for
each iBUG point by position on MediaPipe's canonical face mesh, as in the widely copied
``mediapipe → dlib 68`` tables), with the eye corners on the eyelid contour (33, 263). Limits:
FaceMesh vertices are fixed points of the face surface, while iBUG jaw points 0–16 follow the
visible outline of the face, so under yaw the jaw points of the far side lie on the cheek rather
than on the silhouette; and points without a vertex at the exact position (brow ends, nose wings,
mouth corners on the inner lip) are the nearest vertex, a pixel or two from where an annotator
would put them on a 256-pixel crop.
"""


@dataclass(frozen=True)
class Roi:
    """Rotated square regions of interest, one per frame.

    Attributes
    ----------
    centre : np.ndarray
        ``(T, 2)`` float64 centre ``(x, y)``, pixels.
    side : np.ndarray
        ``(T,)`` float64 side, pixels.
    angle : np.ndarray
        ``(T,)`` float64 rotation, radians: the ROI's x axis points along ``(cos, sin)`` in image
        coordinates (clockwise on screen for a positive angle, since y points down).
    """

    centre: np.ndarray
    side: np.ndarray
    angle: np.ndarray

    @classmethod
    def from_detection(cls, boxes: np.ndarray, keypoints: np.ndarray) -> Roi:
        """MediaPipe's ROI from BlazeFace boxes and keypoints (module docstring).

        Parameters
        ----------
        boxes : np.ndarray
            ``(T, 4)`` ``[x0, y0, x1, y1]``, pixels.
        keypoints : np.ndarray
            ``(T, P, 2)`` BlazeFace keypoints ``(x, y)``, pixels (P ≥ 2).
        """
        boxes = np.asarray(boxes, np.float64)
        keypoints = np.asarray(keypoints, np.float64)
        delta = keypoints[:, EYE_KEYPOINTS[1]] - keypoints[:, EYE_KEYPOINTS[0]]
        angle = TARGET_ANGLE - np.arctan2(-delta[:, 1], delta[:, 0])
        angle = (angle + np.pi) % (2 * np.pi) - np.pi  # NormalizeRadians
        centre = (boxes[:, :2] + boxes[:, 2:]) / 2
        side = ROI_SCALE * np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        return cls(centre, side, angle)

    @classmethod
    def from_landmarks(cls, points: np.ndarray) -> Roi:
        """MediaPipe's ROI from FaceMesh points, for the next frame of a video (module docstring).

        Parameters
        ----------
        points : np.ndarray
            ``(T, 468, ≥2)`` points, ``x, y`` in pixels.
        """
        points = np.asarray(points)
        # (T, 2, N) rows of x and y: reduced along contiguous rows, several times faster
        rows = np.ascontiguousarray(points[..., :2].transpose(0, 2, 1))
        boxes = np.concatenate([rows.min(axis=2), rows.max(axis=2)], axis=1)
        # the eye corners take the place of BlazeFace's eye keypoints 0 and 1
        return cls.from_detection(boxes, points[:, EYE_CORNER_POINTS, :2])

    def input_to_image(self, size: int = INPUT_SIZE) -> np.ndarray:
        """``(T, 2, 3)`` float64 affine maps from model input coordinates to image coordinates.

        Input point ``u`` (continuous, in ``[0, size]²``) lands at
        ``centre + side / size · R(angle) · (u - size / 2)``.
        """
        cos, sin = np.cos(self.angle), np.sin(self.angle)
        scale = self.side / size
        linear = scale[:, None, None] * np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
        offset = self.centre - linear @ np.full(2, size / 2)
        return np.concatenate([linear, offset[:, :, None]], axis=2)

    def warp_matrices(self, size: int = INPUT_SIZE) -> np.ndarray:
        """``(T, 2, 3)`` float64 ``cv2.warpAffine`` matrices image → model input.

        The inverse of :meth:`input_to_image`, converted to OpenCV's convention where pixel
        centres have integer coordinates: ``u_cv = A (p_cv + ½) + b - ½``.
        """
        forward = self.input_to_image(size)
        linear = np.linalg.inv(forward[:, :, :2])
        offset = -(linear @ forward[:, :, 2:])[:, :, 0]
        offset += linear.sum(axis=2) * 0.5 - 0.5
        return np.concatenate([linear, offset[:, :, None]], axis=2)


def warp_to_input(frames: np.ndarray, roi: Roi, size: int = INPUT_SIZE) -> np.ndarray:
    """Sample each frame's ROI into the model input, as MediaPipe's ``ImageToTensorCalculator``.

    Parameters
    ----------
    frames : np.ndarray
        ``(T, H, W, 3)`` uint8 RGB.
    roi : Roi
        ``T`` regions.

    Returns
    -------
    np.ndarray
        ``(T, size, size, 3)`` uint8 RGB (bilinear, border pixels repeated).
    """
    out = np.empty((len(frames), size, size, 3), np.uint8)
    rgba = np.empty((size, size, 4), np.uint8)
    for frame, matrix, crop in zip(frames, roi.warp_matrices(size), out):
        warp_frame(frame, matrix, crop, rgba)
    return out


def warp_frame(frame: np.ndarray, matrix: np.ndarray, out: np.ndarray, rgba: np.ndarray) -> None:
    """Sample one frame through a ``cv2.warpAffine`` matrix (:meth:`Roi.warp_matrices`).

    Parameters
    ----------
    frame : np.ndarray
        ``(H, W, 3)`` uint8 RGB.
    matrix : np.ndarray
        ``(2, 3)`` float64, image → model input.
    out : np.ndarray
        ``(size, size, 3)`` uint8, written: the RGB model input.
    rgba : np.ndarray
        ``(size, size, 4)`` uint8 scratch.
    """
    # OpenCV samples 4-channel images about twice as fast as 3-channel ones, and a contiguous RGB
    # crop converts to the float32 model input six times faster than a view into the RGBA one:
    # ≈145 µs a frame here up to the model input, against ≈235 (3-channel) and ≈245 (RGBA view).
    size = out.shape[1], out.shape[0]
    rgba_frame = cv2.cvtColor(frame, cv2.COLOR_RGB2RGBA)
    cv2.warpAffine(rgba_frame, matrix, size, dst=rgba, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB, dst=out)


def input_to_image(points: np.ndarray, roi: Roi, size: int = INPUT_SIZE) -> np.ndarray:
    """Map model outputs back to image coordinates (``LandmarkProjectionCalculator``).

    Parameters
    ----------
    points : np.ndarray
        ``(T, N, 3)`` model outputs: ``x, y`` in input pixels, ``z`` in the same unit.
    roi : Roi

    Returns
    -------
    np.ndarray
        ``(T, N, 3)`` float32: ``x, y`` image pixels, ``z`` scaled by the same factor (side / size).
    """
    forward = roi.input_to_image(size)
    xy = points[..., :2].astype(np.float64) @ forward[:, :, :2].transpose(0, 2, 1) + forward[:, None, :, 2]
    z = points[..., 2:].astype(np.float64) * (roi.side / size)[:, None, None]
    return np.concatenate([xy, z], axis=-1).astype(np.float32)


class FaceMesh:
    """The FaceMesh ``face_landmark.tflite`` model through the LiteRT interpreter.

    One frame per interpreter call: on one core, batches of 4 and 16 frames ran at 640 and 420
    frames/s against 770 for single frames, and with two threads batching gave nothing either.

    Parameters
    ----------
    model_path : Path
        ``face_landmark.tflite`` (input ``(1, 192, 192, 3)`` float32 in [0, 1]; outputs the 1404
        landmark values and the face-flag logit).
    threads : int
        Interpreter threads.
    """

    def __init__(self, model_path: Path, *, threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(model_path), num_threads=threads)
        self.interpreter.allocate_tensors()
        (inp,) = self.interpreter.get_input_details()
        if tuple(inp["shape"]) != (1, INPUT_SIZE, INPUT_SIZE, 3):
            raise ValueError(f"{model_path}: expected a (1, {INPUT_SIZE}, {INPUT_SIZE}, 3) input, got {inp['shape']}")
        self._input = inp["index"]
        self._landmarks = self._flag = None
        for output in self.interpreter.get_output_details():
            size = int(np.prod(output["shape"]))
            if size == 3 * N_POINTS:
                self._landmarks = output["index"]
            elif size == 1:
                self._flag = output["index"]
        if self._landmarks is None or self._flag is None:
            raise ValueError(f"{model_path} is not a FaceMesh model (outputs of {3 * N_POINTS} and 1 values)")

    def infer(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run the model on ROI crops.

        Parameters
        ----------
        crops : np.ndarray
            ``(T, 192, 192, 3)`` uint8 RGB model inputs (:func:`warp_to_input`).

        Returns
        -------
        tuple[np.ndarray, np.ndarray]
            Points ``(T, 468, 3)`` float32 in input pixels and face-flag logits ``(T,)`` float32.
        """
        points = np.empty((len(crops), N_POINTS, 3), np.float32)
        logits = np.empty(len(crops), np.float32)
        for i, crop in enumerate(crops):
            points[i], logits[i] = self._invoke(crop)
        return points, logits

    def _invoke(self, crop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points ``(468, 3)`` float32 in input pixels and the face-flag logit ``()`` float32 of one
        ``(192, 192, 3)`` uint8 RGB crop (contiguous, for a fast conversion)."""
        interpreter = self.interpreter
        np.multiply(crop, np.float32(1 / 255), out=interpreter.tensor(self._input)()[0], dtype=np.float32)
        interpreter.invoke()
        landmarks = interpreter.get_tensor(self._landmarks).reshape(N_POINTS, 3)
        return landmarks, interpreter.get_tensor(self._flag).reshape(())

    def run(self, frames: np.ndarray, roi: Roi) -> tuple[np.ndarray, np.ndarray]:
        """FaceMesh on the ROI of every frame.

        Parameters
        ----------
        frames : np.ndarray
            ``(T, H, W, 3)`` uint8 RGB.
        roi : Roi
            ``T`` regions (e.g. :meth:`Roi.from_detection`).

        Returns
        -------
        tuple[np.ndarray, np.ndarray]
            Points ``(T, 468, 3)`` float32 in frame pixels (z scaled like x and y) and face
            presence scores ``(T,)`` float32 in [0, 1].
        """
        raw, logits = self.infer(warp_to_input(frames, roi))
        return input_to_image(raw, roi), face_presence(logits)

    def track(
        self, frames: np.ndarray, detect: Callable[[np.ndarray], Roi | None], min_score: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """FaceMesh on every frame of a video, following the face as MediaPipe does (module docstring).

        A frame's ROI comes from the previous frame's points (:meth:`Roi.from_landmarks`) when that
        frame scored at least ``min_score``, else from ``detect``.

        Parameters
        ----------
        frames : np.ndarray
            ``(T, H, W, 3)`` uint8 RGB.
        detect : callable
            ``(H, W, 3)`` frame → its ROI from a face detection (one region,
            :meth:`Roi.from_detection`), or None when it finds no face.
        min_score : float
            Face-presence score in [0, 1] below which the face is lost.

        Returns
        -------
        tuple[np.ndarray, np.ndarray]
            Points ``(T, 468, 3)`` float32 in frame pixels (z scaled like x and y) and face
            presence scores ``(T,)`` float32 in [0, 1]; NaN points and score 0 on frames where
            ``detect`` found no face.
        """
        points = np.full((len(frames), N_POINTS, 3), np.nan, np.float32)
        scores = np.zeros(len(frames), np.float32)
        crop = np.empty((INPUT_SIZE, INPUT_SIZE, 3), np.uint8)
        rgba = np.empty((INPUT_SIZE, INPUT_SIZE, 4), np.uint8)
        roi = None
        for t, frame in enumerate(frames):
            roi = detect(frame) if roi is None else roi
            if roi is None:
                continue
            warp_frame(frame, roi.warp_matrices()[0], crop, rgba)
            raw, logit = self._invoke(crop)
            points[t] = input_to_image(raw[None], roi)[0]
            scores[t] = face_presence(logit)
            roi = Roi.from_landmarks(points[t : t + 1]) if scores[t] >= min_score else None
        return points, scores


def face_presence(logits: np.ndarray) -> np.ndarray:
    """Face-presence scores in [0, 1] of face-flag logits, float32 like them (sigmoid)."""
    return (0.5 + 0.5 * np.tanh(0.5 * logits)).astype(np.float32)  # without overflow
