"""Landmarks stage: FaceMesh on demo faces, the insightface mapping on generated ONNX models, the
fill and smoothing policies, rejections and the store.

Crops are made here from the demo portraits (face centred, the ingest crop's margin), moved a
little from frame to frame, without encoding a video.
"""

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import zarr
from scipy.signal import savgol_filter

from headgan_prep.demo.generate import PORTRAIT_FACE_CENTER, PORTRAIT_FACE_SIDE, demo_portrait
from headgan_prep.ingest.detect import Detections
from headgan_prep.landmarks.facemesh import IBUG68, Roi, input_to_image, warp_to_input
from headgan_prep.landmarks.insightface_1k3d68 import DenseLandmarks3D
from headgan_prep.landmarks.shard import (
    FILL_POLICY,
    FaceMeshLandmarker,
    InsightFaceLandmarker,
    LandmarksConfig,
    LandmarksConfigError,
    fill_nearest,
    follow_face,
    landmarks_shard,
    make_landmarker,
    smooth_valid,
)
from headgan_prep.models.registry import ModelFileMissing
from headgan_prep.store.rejections import read_rejections

CROP = 256
FACEMESH = "mediapipe/face_landmark.tflite"
BLAZEFACE = "mediapipe/face_detection_short_range.tflite"
SCRFD = "insightface/scrfd_500m_bnkps.onnx"


def portrait_crop(index: int) -> np.ndarray:
    """(256, 256, 3) uint8 crop of demo portrait ``index`` on grey, face box about 145 px wide."""
    portrait = demo_portrait(index)
    rgb, alpha = portrait.rgba[..., :3].astype(np.float32), portrait.rgba[..., 3:] / 255.0
    image = (alpha * rgb + (1 - alpha) * 128).astype(np.uint8)
    side = 1.8 * PORTRAIT_FACE_SIDE
    x, y = PORTRAIT_FACE_CENTER[0] - side / 2, PORTRAIT_FACE_CENTER[1] - side / 2 - 0.08 * PORTRAIT_FACE_SIDE
    scale = CROP / side
    matrix = np.array([[scale, 0, -x * scale], [0, scale, -y * scale]])
    return cv2.warpAffine(image, matrix, (CROP, CROP), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def rotate(image: np.ndarray, degrees: float, shift=(0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """``image`` turned by ``degrees`` (counter-clockwise on screen) about its centre, then shifted;
    returns it and the (2, 3) map of continuous pixel coordinates."""
    # OpenCV's pixel (127.5, 127.5) is the continuous point (128, 128): the same matrix maps
    # continuous coordinates about the crop centre
    matrix = cv2.getRotationMatrix2D((CROP / 2 - 0.5, CROP / 2 - 0.5), degrees, 1.0)
    matrix[:, 2] += shift
    out = cv2.warpAffine(image, matrix, (CROP, CROP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out, matrix


def clip_frames(index: int, n: int = 25) -> np.ndarray:
    """(n, 256, 256, 3) crops of portrait ``index``, turning up to ±3° and moving up to ±3 px."""
    base = portrait_crop(index)
    t = np.arange(n) / n * 2 * np.pi
    return np.stack([rotate(base, 3 * math.sin(a), (3 * math.cos(a), 2 * math.sin(2 * a)))[0] for a in t])


def write_crops(store: Path, clips: dict[str, np.ndarray]) -> Path:
    """A crop store holding ``frames`` and ``source_path`` for each clip (what the stage reads)."""
    root = zarr.open_group(str(store), mode="w", zarr_format=3)
    for clip_id, frames in clips.items():
        group = root.create_group(clip_id, attributes={"clip_id": clip_id, "source_path": f"/videos/{clip_id}.mp4"})
        group.create_array("frames", data=frames, chunks=(1, CROP, CROP, 3))
    return store


def rotation_degrees(before: np.ndarray, after: np.ndarray) -> float:
    """Least-squares (Procrustes) rotation, degrees, taking (N, 2) points ``before`` to ``after``,
    in image coordinates (positive: clockwise on screen)."""
    a, b = before - before.mean(0), after - after.mean(0)
    cross = np.sum(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])
    return math.degrees(math.atan2(cross, np.sum(a * b)))


@pytest.fixture(scope="module")
def facemesh(models_dir, require_model):
    require_model(FACEMESH)
    require_model(BLAZEFACE)
    return make_landmarker(LandmarksConfig(detect_every=1), models_dir)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_facemesh_points_lie_on_the_face(facemesh, index):
    frames = clip_frames(index, 5)
    points, score = facemesh.locate(frames)
    assert points.shape == (5, 468, 3) and points.dtype == np.float32
    assert (score > 0.9).all()
    assert ((points[..., :2] > 0) & (points[..., :2] < CROP)).all()
    ibug = points[:, IBUG68]
    # iBUG 36–41: the subject's right eye, on the image's left; 42–47: the left eye
    right_eye, left_eye = ibug[:, 36:42, :2].mean(1), ibug[:, 42:48, :2].mean(1)
    nose_tip, mouth = ibug[:, 30, :2], ibug[:, 48:68, :2].mean(1)
    assert (right_eye[:, 0] + 30 < left_eye[:, 0]).all()
    assert (np.maximum(right_eye[:, 1], left_eye[:, 1]) + 10 < nose_tip[:, 1]).all()
    assert (nose_tip[:, 1] + 10 < mouth[:, 1]).all()
    assert ((right_eye[:, 0] < nose_tip[:, 0]) & (nose_tip[:, 0] < left_eye[:, 0])).all()
    # the nose tip is nearer the camera (smaller z) than the eyes, the eyes nearer than the jaw ends
    eye_depth = ibug[:, 36:48, 2].mean(1)
    assert (ibug[:, 30, 2] + 10 < eye_depth).all() and (eye_depth + 10 < ibug[:, [0, 16], 2].mean(1)).all()


@pytest.mark.parametrize("degrees", [10.0, -10.0])
def test_facemesh_points_turn_with_the_crop(facemesh, degrees):
    base = portrait_crop(0)
    turned, matrix = rotate(base, degrees)
    points, _ = facemesh.locate(np.stack([base, turned]))
    expected = math.degrees(math.atan2(matrix[1, 0], matrix[0, 0]))
    measured = rotation_degrees(points[0, :, :2], points[1, :, :2])
    assert abs(measured - expected) < 2, (measured, expected)
    moved = points[0, :, :2] @ matrix[:, :2].T + matrix[:, 2]
    assert np.median(np.hypot(*(moved - points[1, :, :2]).T)) < 3
    assert abs(np.ptp(points[1, :, 2]) - np.ptp(points[0, :, 2])) < 0.05 * np.ptp(points[0, :, 2])


def test_roi_warp_and_mapping_back_are_inverse():
    frame = np.zeros((1, CROP, CROP, 3), np.uint8)
    frame[0, 70, 150] = 255  # pixel (row 70, column 150): centre (150.5, 70.5)
    roi = Roi(np.array([[140.0, 90.0]]), np.array([96.0]), np.array([0.4]))  # 2× zoom, turned
    warped = warp_to_input(frame, roi)[0, ..., 0].astype(np.float64)
    rows, cols = np.nonzero(warped)
    weights = warped[rows, cols]
    centroid = np.array([[[np.average(cols + 0.5, weights=weights), np.average(rows + 0.5, weights=weights), 4.0]]])
    back = input_to_image(centroid, roi)[0, 0]
    assert np.hypot(back[0] - 150.5, back[1] - 70.5) < 0.05
    assert back[2] == pytest.approx(4.0 * 96 / 192)


# ----------------------------------------------------------------------------------------------
# following the face from frame to frame (roi: track)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("radians, expected", [(0.0, 0.0), (0.3, 0.3), (-1.2, -1.2), (3.5, 3.5 - 2 * math.pi)])
def test_roi_from_landmarks_is_mediapipes_rect(radians, expected):
    rng = np.random.default_rng(1)
    face = rng.uniform(-60, 60, (468, 2)) * [1.0, 1.3]  # about the origin, taller than wide
    face[33], face[263] = (-30, -20), (30, -20)  # outer eye corners on a horizontal line
    cos, sin = math.cos(radians), math.sin(radians)
    xy = face @ np.array([[cos, -sin], [sin, cos]]).T + [120, 130]  # turned clockwise on screen, moved
    points = np.concatenate([xy, rng.normal(size=(468, 1))], axis=1)[None]
    roi = Roi.from_landmarks(points)
    low, high = xy.min(axis=0), xy.max(axis=0)
    np.testing.assert_allclose(roi.centre, [(low + high) / 2])
    np.testing.assert_allclose(roi.side, [1.5 * np.max(high - low)])
    np.testing.assert_allclose(roi.angle, [expected], atol=1e-12)


class CountingDetector:
    """A face detector that counts the frames it is given."""

    def __init__(self, detector):
        self.detector, self.name, self.frames = detector, detector.name, 0

    def detect(self, frames):
        self.frames += len(frames)
        return self.detector.detect(frames)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_tracking_agrees_with_detection_on_every_frame_and_detects_once(facemesh, index):
    frames = clip_frames(index)
    counting = CountingDetector(facemesh.detector)
    tracked, tracked_score = FaceMeshLandmarker(counting, facemesh.mesh, 1, roi="track").locate(frames)
    detected, _ = FaceMeshLandmarker(facemesh.detector, facemesh.mesh, 1, roi="detect").locate(frames)
    assert counting.frames == 1 and (tracked_score > 0.9).all()
    np.testing.assert_array_equal(tracked[0], detected[0])  # both start from the same detection
    # measured ≤ 1.6 px (of a 145-px face) on these clips: the box around the 468 points frames the
    # face a little differently from BlazeFace's box, which shifts the model's output by a near
    # constant; both follow the crop's known motion to 0.2–0.4 px (median over the points)
    distance = np.hypot(*(tracked[..., :2] - detected[..., :2]).transpose(2, 0, 1))
    assert np.median(distance, axis=1).max() < 2.0


def test_tracking_detects_again_after_losing_the_face(facemesh):
    frames = clip_frames(2)
    frames[10:13] = 128
    counting = CountingDetector(facemesh.detector)
    points, score = FaceMeshLandmarker(counting, facemesh.mesh, 1, roi="track", min_score=0.5).locate(frames)
    # frame 10: FaceMesh on frame 9's ROI finds no face; 11, 12: no detection; 13: detected again
    assert score[10] < 0.5 and np.isfinite(points[10]).all()
    assert np.isnan(points[11:13]).all() and (score[11:13] == 0).all()
    assert (score[np.r_[0:10, 13:25]] > 0.9).all()
    assert counting.frames == 4  # frames 0, 11, 12 and 13


# ----------------------------------------------------------------------------------------------
# insightface 1k3d68 mapping, on generated models with its signature
# ----------------------------------------------------------------------------------------------

POINT = 1103 - 68 + 30  # the nose tip of the 68 iBUG points
PROBE = (20, 20)  # model input pixel (x, y) whose red value the model writes into point 0's z


def locator_model(path: Path, batch, first_node: str = "pick_red") -> Path:
    """An ONNX file with 1k3d68's signature (input ``data`` (N, 3, 192, 192), output (N, 3309)).

    Point :data:`POINT` is the brightest pixel of input channel 0 (``x, y = column, row / 96 - 1``,
    so that insightface's ``(v + 1) · 96`` gives the pixel back) with ``z = 0.5``; point 0 has
    ``x = y = 0`` and ``z`` = the input value of channel 0 at :data:`PROBE`; every other output is 0.
    ``first_node`` names the first node (insightface decides the input normalisation by node names).
    """
    from onnx import TensorProto, helper, numpy_helper, save

    size, width = 192, 3309
    one_hot = np.zeros((4, 1, width), np.float32)
    one_hot[0, 0, 3 * POINT] = 1 / 96
    one_hot[1, 0, 3 * POINT + 1] = 1 / 96
    one_hot[2, 0, 2] = 1
    one_hot[3, 0, [3 * POINT, 3 * POINT + 1]] = -1
    one_hot[3, 0, 3 * POINT + 2] = 0.5
    constants = {
        "starts": np.array([0], np.int64),
        "ends": np.array([1], np.int64),
        "axes": np.array([1], np.int64),
        "flat_shape": np.array([0, -1], np.int64),
        "side": np.array(size, np.int64),
        "probe_start": np.array([PROBE[1] * size + PROBE[0]], np.int64),
        "probe_end": np.array([PROBE[1] * size + PROBE[0] + 1], np.int64),
        "x_hot": one_hot[0],
        "y_hot": one_hot[1],
        "z_hot": one_hot[2],
        "base": one_hot[3],
    }
    nodes = [
        helper.make_node("Slice", ["data", "starts", "ends", "axes"], ["red"], name=first_node),
        helper.make_node("Reshape", ["red", "flat_shape"], ["flat"], name="flatten"),
        helper.make_node("ArgMax", ["flat"], ["index"], axis=1, keepdims=1, name="brightest"),
        helper.make_node("Mod", ["index", "side"], ["column"], name="column"),
        helper.make_node("Div", ["index", "side"], ["row"], name="row"),
        helper.make_node("Cast", ["column"], ["x"], to=TensorProto.FLOAT, name="x"),
        helper.make_node("Cast", ["row"], ["y"], to=TensorProto.FLOAT, name="y"),
        helper.make_node("Slice", ["flat", "probe_start", "probe_end", "axes"], ["probe"], name="probe"),
        helper.make_node("Mul", ["x", "x_hot"], ["x_out"], name="place_x"),
        helper.make_node("Mul", ["y", "y_hot"], ["y_out"], name="place_y"),
        helper.make_node("Mul", ["probe", "z_hot"], ["z_out"], name="place_z"),
        helper.make_node("Sum", ["x_out", "y_out", "z_out", "base"], ["fc1"], name="points"),
    ]
    graph = helper.make_graph(
        nodes,
        "locator",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, [batch, 3, size, size])],
        [helper.make_tensor_value_info("fc1", TensorProto.FLOAT, [batch, width])],
        [numpy_helper.from_array(value, name) for name, value in constants.items()],
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def locator_frames(n: int) -> np.ndarray:
    """Black crops with a red pixel at (row 140, column 110), a blue one at (100, 150) and red 200
    at (90, 90): with the box [96, 96, 160, 160] (crop scale 2) they land on input pixels (60, 120),
    (140, 40) and :data:`PROBE`."""
    frames = np.zeros((n, CROP, CROP, 3), np.uint8)
    frames[:, 140, 110, 0] = 255
    frames[:, 100, 150, 2] = 255
    frames[:, 90, 90, 0] = 200
    return frames


BOX = np.array([96.0, 96.0, 160.0, 160.0])


@pytest.mark.parametrize(
    "batch, first_node, probe_value",
    [("N", "pick_red", (200 - 127.5) / 128), (1, "pick_red", (200 - 127.5) / 128), ("N", "bn_data", 200.0)],
)
def test_insightface_points_map_back_to_the_pixel(tmp_path, batch, first_node, probe_value):
    model = DenseLandmarks3D(
        locator_model(tmp_path / "1k3d68.onnx", batch, first_node), batch_size=2, providers=["CPUExecutionProvider"]
    )
    assert model.batch_size == (2 if batch == "N" else 1)
    points = model.run(locator_frames(5), np.repeat(BOX[None], 5, axis=0))
    assert points.shape == (5, 1103, 3) and points.dtype == np.float32
    # the red pixel (row 140, column 110) covers [110, 111] × [140, 141]; z: 0.5 · 96 / scale 2
    np.testing.assert_allclose(points[:, POINT], np.tile([110.5, 140.5, 24.0], (5, 1)), atol=1e-3)
    # (0, 0) → the input centre → the box centre; z: the normalised red value · 96 / 2
    np.testing.assert_allclose(points[:, 0], np.tile([128.5, 128.5, probe_value * 48], (5, 1)), rtol=1e-5)


def test_insightface_backend_takes_the_detected_box_and_the_last_68_points(tmp_path):
    class FixedBox:
        name = "fixed"

        def detect(self, frames):
            return [Detections(BOX[None].astype(np.float32), np.array([0.9], np.float32), np.zeros((1, 5, 2)))] * len(
                frames
            )

    model = DenseLandmarks3D(locator_model(tmp_path / "m.onnx", "N"), providers=["CPUExecutionProvider"])
    landmarker = InsightFaceLandmarker(FixedBox(), model, detect_every=3)
    points, score = landmarker.locate(locator_frames(7))
    np.testing.assert_allclose(points[:, POINT, :2], np.tile([110.5, 140.5], (7, 1)), atol=1e-3)
    np.testing.assert_allclose(score, 0.9)
    assert landmarker.ibug68[30] == POINT and len(landmarker.ibug68) == 68


def test_insightface_shard_store(tmp_path, models_dir, require_model):
    require_model(SCRFD)
    models = tmp_path / "models"
    (models / "insightface").mkdir(parents=True)
    (models / SCRFD).symlink_to(models_dir / SCRFD)
    locator_model(models / "insightface/1k3d68.onnx", "N")
    crops = write_crops(tmp_path / "crops.zarr", {"a": clip_frames(1, 6)})
    cfg = LandmarksConfig(backend="insightface", detect_every=2)
    stats = landmarks_shard(crops, tmp_path / "train-0000.zarr", tmp_path / "rej.tsv", cfg, models, progress=False)
    assert stats.n_kept == 1 and stats.n_valid == 6
    clip = zarr.open_group(str(tmp_path / "train-0000.zarr"), mode="r")["a"]
    points = clip["points"][:]
    assert points.shape == (6, 1103, 3) and clip["ibug68"].shape == (6, 68, 3)
    np.testing.assert_array_equal(clip["ibug68"][:], points[:, -68:])
    attrs = dict(clip.attrs)
    assert attrs["model"] == "insightface/1k3d68.onnx" and attrs["detector"] == "insightface:scrfd_500m_bnkps"
    assert attrs["n_points"] == 1103 and attrs["score"] == "detector"


def test_missing_landmark_model_names_the_file(tmp_path):
    with pytest.raises(ModelFileMissing, match=r"1k3d68\.onnx.*buffalo_l"):
        make_landmarker(LandmarksConfig(backend="insightface"), tmp_path / "no-models")
    crops = write_crops(tmp_path / "crops.zarr", {"a": locator_frames(2)})
    with pytest.raises(ModelFileMissing, match="face_landmark.tflite"):
        landmarks_shard(crops, tmp_path / "out.zarr", tmp_path / "rej.tsv", LandmarksConfig(), tmp_path / "none")
    assert not (tmp_path / "out.zarr").exists() and not (tmp_path / "rej.tsv").exists()


# ----------------------------------------------------------------------------------------------
# policies
# ----------------------------------------------------------------------------------------------


def test_fill_takes_the_nearest_valid_frame_earlier_on_ties():
    values = np.arange(8, dtype=np.float32)[:, None] * 10
    valid = np.array([False, True, False, False, False, True, True, False])
    np.testing.assert_array_equal(fill_nearest(values, valid)[:, 0], [10, 10, 10, 10, 50, 50, 60, 60])


def faces(*found) -> Detections:
    """Detections of ``(box, score)`` pairs, each with 6 keypoints at the box's top-left corner."""
    boxes = np.array([box for box, _ in found], np.float32).reshape(-1, 4)
    keypoints = np.repeat(boxes[:, None, :2], 6, axis=1)
    return Detections(boxes, np.array([score for _, score in found], np.float32), keypoints)


def test_follow_face_picks_the_central_face_and_interpolates():
    corner = ([0, 0, 40, 40], 0.99)  # scored highest, never chosen: not the crop's face
    detections = [
        faces(corner, ([100, 100, 160, 160], 0.8)),
        faces(([110, 100, 170, 160], 0.6), corner),
        faces(),
        faces(([100, 100, 160, 160], 0.8)),
    ]
    track = follow_face(detections, np.array([0, 4, 8, 10]), 11, (CROP, CROP))
    np.testing.assert_allclose(track.boxes[2], [105, 100, 165, 160])
    np.testing.assert_allclose(track.boxes[6], [110 - 10 / 3, 100, 170 - 10 / 3, 160])  # frame 8 found none
    np.testing.assert_allclose(track.keypoints[2, 3], [105, 100])
    np.testing.assert_allclose(track.scores[:5], [0.8, 0.75, 0.7, 0.65, 0.6], rtol=1e-6)
    assert (track.scores[5:10] == 0).all() and track.scores[10] == pytest.approx(0.8)
    nothing = follow_face([faces(), faces()], np.array([0, 3]), 4, (CROP, CROP))
    assert not nothing.found and (nothing.scores == 0).all()


def test_smoothing_is_savitzky_golay_over_valid_frames():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(40, 7, 3)).astype(np.float32)
    valid = np.ones(40, bool)
    smoothed = smooth_valid(values, valid, 7, 2)
    np.testing.assert_allclose(smoothed[3:-3], savgol_filter(values, 7, 2, axis=0)[3:-3], atol=1e-5)
    valid[[10, 11, 20]] = False
    values[[10, 11, 20]] = np.nan
    averaged = smooth_valid(values, valid, 5, 0)
    np.testing.assert_allclose(averaged[12], np.nanmean(values[10:15], axis=0), rtol=1e-5)
    assert np.isnan(averaged[[10, 11, 20]]).all()
    np.testing.assert_allclose(averaged[0], values[0:3].mean(axis=0), rtol=1e-5)


def test_config_from_dict():
    cfg = LandmarksConfig.from_dict({"backend": "insightface", "smoothing": "savgol"})
    assert cfg.model_path == "insightface/1k3d68.onnx" and LandmarksConfig.from_dict(cfg.to_dict()) == cfg
    assert LandmarksConfig().model_path == "mediapipe/face_landmark.tflite"
    assert LandmarksConfig().roi == "track" and LandmarksConfig.from_dict({"roi": "detect"}).roi == "detect"
    for bad, message in [
        ({"backend": "dlib"}, "backend"),
        ({"smoothing": "kalman"}, "smoothing"),
        ({"smoothing_window": 4}, "smoothing_window"),
        ({"smoothing_order": 5}, "smoothing_order"),
        ({"max_invalid_fraction": 1.5}, "max_invalid_fraction"),
        ({"detect_every": 0}, "detect_every"),
        ({"roi": "optical_flow"}, "roi"),
        ({"min_scor": 0.5}, "min_scor"),
    ]:
        with pytest.raises(LandmarksConfigError, match=message):
            LandmarksConfig.from_dict(bad)


# ----------------------------------------------------------------------------------------------
# the shard job with FaceMesh
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shard_crops(tmp_path_factory):
    """Clips: two faces; one whose face is covered on frames 10–12; one without a face."""
    hidden = clip_frames(2)
    hidden[10:13] = 128
    clips = {"face-a": clip_frames(0), "face-b": clip_frames(1), "hidden": hidden}
    clips["no-face"] = np.full_like(hidden, 128)
    clips["no-face"][:, :, :, 2] = np.linspace(60, 200, CROP, dtype=np.uint8)
    return write_crops(tmp_path_factory.mktemp("crops") / "train-0000.zarr", clips)


@pytest.fixture(scope="module")
def shard_run(shard_crops, tmp_path_factory, models_dir, require_model):
    require_model(FACEMESH)
    require_model(BLAZEFACE)
    out = tmp_path_factory.mktemp("landmarks")
    stats = landmarks_shard(
        shard_crops, out / "train-0000.zarr", out / "train-0000.tsv", LandmarksConfig(), models_dir, progress=False
    )
    return stats, out / "train-0000.zarr", out / "train-0000.tsv"


def test_clip_without_face_is_rejected_and_the_shard_goes_on(shard_run):
    stats, store, tsv = shard_run
    assert stats.n_kept == 3 and stats.rejected_by_reason == {"invalid_frames": 1}
    (row,) = read_rejections(tsv)
    assert (row.clip_id, row.stage, row.path) == ("no-face", "landmarks", "/videos/no-face.mp4")
    assert "max_invalid_fraction=0.2" in row.detail
    assert sorted(zarr.open_group(str(store), mode="r").group_keys()) == ["face-a", "face-b", "hidden"]


def test_covered_frames_are_invalid_and_filled(shard_run):
    _, store, _ = shard_run
    clip = zarr.open_group(str(store), mode="r")["hidden"]
    valid, points = clip["valid"][:], clip["points"][:]
    assert np.flatnonzero(~valid).tolist() == [10, 11, 12]
    assert (clip["score"][:][10:13] < 0.5).all()
    np.testing.assert_array_equal(points[10], points[9])
    np.testing.assert_array_equal(points[11], points[9])
    np.testing.assert_array_equal(points[12], points[13])
    assert dict(clip.attrs)["n_valid"] == 22


def test_store_schema(shard_run):
    _, store, _ = shard_run
    root = zarr.open_group(str(store), mode="r")
    assert root.metadata.zarr_format == 3
    attrs = dict(root.attrs)
    assert attrs["schema"] == "headgan.landmarks/1" and attrs["shard"] == "train-0000" and attrs["n_clips"] == 3
    assert LandmarksConfig.from_dict(attrs["config"]) == LandmarksConfig()
    for name in ("face-a", "face-b", "hidden"):
        clip = root[name]
        shapes = {key: (clip[key].shape, clip[key].dtype) for key in ("points", "ibug68", "score", "valid", "mouth_box")}
        assert shapes == {
            "points": ((25, 468, 3), np.float32),
            "ibug68": ((25, 68, 3), np.float32),
            "score": ((25,), np.float32),
            "valid": ((25,), np.bool_),
            "mouth_box": ((25, 4), np.float32),
        }
        np.testing.assert_array_equal(clip["ibug68"][:], clip["points"][:][:, IBUG68])
        box, mouth = clip["mouth_box"][:], clip["ibug68"][:][:, 48:68, :2]
        side = np.maximum(np.round(1.2 * np.ptp(mouth, axis=1).max(axis=1)), 64)
        np.testing.assert_allclose(box[:, 2:] - box[:, :2], np.c_[side, side], rtol=1e-6)
        np.testing.assert_allclose((box[:, :2] + box[:, 2:]) / 2, mouth.mean(axis=1), atol=1e-3)
        assert dict(clip.attrs) == {
            "clip_id": name,
            "n_frames": 25,
            "n_valid": int(clip["valid"][:].sum()),
            "backend": "mediapipe",
            "model": "mediapipe/face_landmark.tflite",
            "detector": "mediapipe:face_detection_short_range",
            "n_points": 468,
            "score": "facemesh_face_presence",
            "min_score": 0.5,
            "fill": FILL_POLICY,
            "smoothing": {"method": "none"},
        }


def test_same_input_same_bytes_and_smoothing_changes_only_points(shard_crops, shard_run, tmp_path, models_dir):
    _, first, first_tsv = shard_run
    landmarks_shard(shard_crops, tmp_path / "train-0000.zarr", tmp_path / "r.tsv", LandmarksConfig(), models_dir, False)
    one, two = tree_bytes(first), tree_bytes(tmp_path / "train-0000.zarr")
    assert one.keys() == two.keys() and len(one) > 10
    assert [name for name in one if one[name] != two[name]] == []
    assert first_tsv.read_bytes() == (tmp_path / "r.tsv").read_bytes()

    cfg = LandmarksConfig(smoothing="savgol", smoothing_window=5, smoothing_order=2)
    landmarks_shard(shard_crops, tmp_path / "smooth.zarr", tmp_path / "s.tsv", cfg, models_dir, False)
    raw, smooth = (zarr.open_group(str(p), mode="r")["face-a"] for p in (first, tmp_path / "smooth.zarr"))
    np.testing.assert_array_equal(raw["score"][:], smooth["score"][:])
    difference = np.abs(raw["points"][:] - smooth["points"][:])
    assert 0 < difference.mean() < 1.0
    assert dict(smooth.attrs)["smoothing"] == {"method": "savgol", "window": 5, "order": 2}


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_mouth_boxes_are_sized_from_the_mouth_points():
    from headgan_prep.landmarks.shard import mouth_boxes

    ibug = np.zeros((3, 68, 3), np.float32)
    for t, width in enumerate((20.0, 71.0, 300.0)):
        ibug[t, 48:68, 0] = np.linspace(128 - width / 2, 128 + width / 2, 20)
        ibug[t, 48:68, 1] = 200 + np.linspace(-5, 5, 20)
    boxes = mouth_boxes(ibug, 256, margin=1.2)
    sides = boxes[:, 2] - boxes[:, 0]
    np.testing.assert_array_equal(sides, [64, 85, 256])  # at least 64; 1.2 × 71 = 85.2; at most the crop
    np.testing.assert_array_equal(boxes[:, 3] - boxes[:, 1], sides)
    assert boxes[1, 3] == 242.5 and boxes[1, 1] == 157.5  # centred on the points' mean (x 128, y 200)
    assert boxes[0, 3] == 232 and (boxes[:, :2] >= 0).all() and (boxes[:, 2:] <= 256).all()
