"""Face detection backends on real photos, and insightface's detector layouts on generated ONNX files."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from headgan_prep.ingest.detect import (
    BlazeFaceDetector,
    auto_input_size,
    BLAZEFACE_MODELS,
    Detections,
    Letterbox,
    make_detector,
    split_batched_output,
    ssd_anchor_centres,
    weighted_nms,
)
from headgan_prep.models.registry import ModelFileMissing

SHORT = "mediapipe/face_detection_short_range.tflite"
FULL = "mediapipe/face_detection_full_range_sparse.tflite"
SCRFD = "insightface/scrfd_500m_bnkps.onnx"

# Face centre in skimage's astronaut (512×512), read off the image by eye: midway between the eyes
# (≈ (203, 100), (245, 100)) and the mouth (≈ (223, 145)).
ASTRONAUT_FACE = (224.0, 122.0)
# Face centres in insightface's t1.jpg (1280×886, six people), read off the image by eye.
T1_FACES = [(112, 328), (320, 207), (517, 340), (796, 411), (958, 132), (1178, 336)]
CENTRE_TOLERANCE = 15.0

REAL_DETECTORS = {
    "blazeface-short": ("mediapipe", SHORT, None),
    "blazeface-full": ("mediapipe", FULL, "face_detection_full_range_sparse.tflite"),
    "scrfd-500m": ("insightface", SCRFD, None),
}


def insightface_image(name: str) -> np.ndarray:
    import insightface

    path = Path(insightface.__file__).parent / "data" / "images" / name
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module", params=sorted(REAL_DETECTORS))
def real_detector(request, require_model, models_dir):
    backend, relative, model = REAL_DETECTORS[request.param]
    require_model(relative)
    return make_detector(backend, models_dir, model=model)


def centres(detections: Detections) -> np.ndarray:
    return (detections.boxes[:, :2] + detections.boxes[:, 2:]) / 2


def check_consistent(detections: Detections) -> None:
    k = len(detections.scores)
    assert detections.boxes.shape == (k, 4) and detections.boxes.dtype == np.float32
    assert detections.scores.shape == (k,) and detections.scores.dtype == np.float32
    assert detections.keypoints.shape[0] == k and detections.keypoints.shape[2] == 2
    assert np.all(np.diff(detections.scores) <= 0)
    assert np.all((detections.scores >= 0) & (detections.scores <= 1))
    assert np.all(detections.boxes[:, 2:] > detections.boxes[:, :2])


def test_astronaut_face_found(real_detector):
    [found] = real_detector.detect(skimage.data.astronaut()[None])
    check_consistent(found)
    assert len(found.scores) == 1
    assert np.hypot(*(centres(found)[0] - ASTRONAUT_FACE)) < CENTRE_TOLERANCE
    width, height = found.boxes[0, 2:] - found.boxes[0, :2]
    assert 70 < width < 130 and 70 < height < 130


def test_keypoints_inside_box(real_detector):
    [found] = real_detector.detect(skimage.data.astronaut()[None])
    x0, y0, x1, y1 = found.boxes[0]
    # Eyes, nose and mouth lie inside the box; BlazeFace's ear tragions (keypoints 4, 5) lie on its
    # left/right edges, so they get a margin of 10 % of the box width.
    inner = found.keypoints[0, :4]
    assert np.all((inner[:, 0] > x0) & (inner[:, 0] < x1) & (inner[:, 1] > y0) & (inner[:, 1] < y1))
    margin = 0.1 * (x1 - x0)
    every = found.keypoints[0]
    assert np.all((every[:, 0] > x0 - margin) & (every[:, 0] < x1 + margin))
    assert np.all((every[:, 1] > y0) & (every[:, 1] < y1))


def test_no_face_in_blank_or_noise(real_detector):
    rng = np.random.default_rng(0)
    frames = np.stack([np.zeros((256, 256, 3), np.uint8), rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)])
    found = real_detector.detect(frames)
    assert [len(d.scores) for d in found] == [0, 0]
    assert found[0].keypoints.shape[1:] == (real_detector.detect(skimage.data.astronaut()[None])[0].keypoints.shape[1:])


def test_aligned_face_crop_found(real_detector):
    [found] = real_detector.detect(insightface_image("Tom_Hanks_54745.png")[None])
    assert len(found.scores) == 1
    assert np.hypot(*(centres(found)[0] - (56, 56))) < 15


def input_side(detector, height: int, width: int) -> int:
    """Side in pixels of the square detector input a (height, width) frame is fitted into."""
    if isinstance(detector, BlazeFaceDetector):
        return detector.config.input_size
    return detector.input_size or auto_input_size(height, width)


# (scale of the photo, canvas size relative to the pasted photo (x, y), where the photo lies in
# the free space of the canvas (0 = left/top, 1 = right/bottom)).
PASTE_CASES = [
    (1.0, (1.25, 1.1), (0.8, 0.1)),
    (0.6, (1.1, 1.3), (0.1, 0.9)),
    (1.5, (1.2, 1.2), (0.5, 0.5)),
    (2.0, (1.3, 1.0), (0.0, 0.0)),
    (0.75, (1.25, 1.0), (1.0, 0.0)),
]


@pytest.mark.parametrize("scale, canvas, place", PASTE_CASES)
def test_translated_and_scaled_copy(real_detector, scale, canvas, place):
    """The face found in a scaled copy pasted into a larger black canvas moves and scales with it.

    The box must match the photo's box mapped onto the canvas within 4 px or 2 px of the detector
    input, whichever is larger (the canvas reaches the detector at another resolution than the
    photo, so its box is quantised differently).
    """
    image = skimage.data.astronaut()
    [reference] = real_detector.detect(image[None])
    pasted = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ph, pw = pasted.shape[:2]
    height, width = int(ph * canvas[1]), int(pw * canvas[0])
    x, y = int((width - pw) * place[0]), int((height - ph) * place[1])
    frame = np.zeros((height, width, 3), np.uint8)
    frame[y : y + ph, x : x + pw] = pasted
    [found] = real_detector.detect(frame[None])
    assert len(found.scores) == 1
    expected = reference.boxes[0] * scale + np.array([x, y, x, y])
    tolerance = max(4.0, 2.0 * max(height, width) / input_side(real_detector, height, width))
    assert np.abs(found.boxes[0] - expected).max() < tolerance
    moved = reference.keypoints[0] * scale + [x, y]
    assert np.linalg.norm(found.keypoints[0] - moved, axis=1).mean() < 2 * tolerance


def test_group_photo(require_model, models_dir):
    require_model(FULL)
    require_model(SCRFD)
    photo = insightface_image("t1.jpg")
    for backend, model, minimum in [
        ("mediapipe", "face_detection_full_range_sparse.tflite", 4),
        ("insightface", None, 6),
    ]:
        [found] = make_detector(backend, models_dir, model=model).detect(photo[None])
        check_consistent(found)
        assert len(found.scores) >= minimum
        distances = np.hypot(*(centres(found)[:, None, :] - np.array(T1_FACES)[None]).transpose(2, 0, 1))
        assert np.all(distances.min(axis=1) < 20), "every detection lies on a face"


def test_batch_matches_single_frames(require_model, models_dir):
    require_model(SHORT)
    rng = np.random.default_rng(1)
    image = cv2.resize(skimage.data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)
    frames = np.stack([np.roll(image, tuple(rng.integers(-40, 40, 2)), axis=(0, 1)) for _ in range(7)])
    batched = make_detector("mediapipe", models_dir, threads=2)
    assert batched.batch_size > 1
    single = make_detector("mediapipe", models_dir, threads=1)
    for many, one in zip(batched.detect(frames), [single.detect(f[None])[0] for f in frames]):
        assert len(many.scores) == len(one.scores) == 1
        np.testing.assert_allclose(many.boxes, one.boxes, atol=1e-3)
        np.testing.assert_allclose(many.keypoints, one.keypoints, atol=1e-3)


def test_empty_batch(require_model, models_dir):
    require_model(SHORT)
    assert make_detector("mediapipe", models_dir).detect(np.zeros((0, 64, 64, 3), np.uint8)) == []


# ------------------------------------------------------------------------------------------------
# BlazeFace pieces
# ------------------------------------------------------------------------------------------------


def test_anchor_counts_match_models():
    short = ssd_anchor_centres(BLAZEFACE_MODELS["face_detection_short_range.tflite"])
    full = ssd_anchor_centres(BLAZEFACE_MODELS["face_detection_full_range_sparse.tflite"])
    assert short.shape == (896, 2) and full.shape == (2304, 2)
    # Short range: 16×16 map with 2 anchors per cell, then an 8×8 map with 6 anchors per cell.
    np.testing.assert_allclose(short[:2], [[0.5 / 16, 0.5 / 16]] * 2)
    np.testing.assert_allclose(short[2], [1.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(short[512:518], [[0.5 / 8, 0.5 / 8]] * 6)
    np.testing.assert_allclose(full[1], [1.5 / 48, 0.5 / 48])


def test_split_batched_output():
    """Batch rows: all frames of feature map 0 (4 anchors each), then all frames of map 1 (2 each)."""
    frames, groups, first_anchor = 3, [4, 2], [0, 4]
    value = np.array(
        [[f, first_anchor[g] + a] for g, size in enumerate(groups) for f in range(frames) for a in range(size)]
    )
    result = split_batched_output(value[None], frames, groups)
    expected = np.stack([np.stack([np.full(6, f), np.arange(6)], axis=1) for f in range(frames)])
    np.testing.assert_array_equal(result, expected)


def test_letterbox_maps_back():
    box = Letterbox.fit(1280, 720, 128)
    assert box.scale == pytest.approx(0.1) and box.offset == pytest.approx((0.0, 28.0))
    points = np.array([[0.0, 0.0], [1280.0, 720.0]], np.float32)
    np.testing.assert_allclose(box.to_frame(points * 0.1 + [0, 28]), points, atol=1e-3)


def test_weighted_nms_merges_overlapping():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.6, 0.9, 0.7], np.float32)
    keypoints = np.array([[[0, 0]], [[3, 0]], [[55, 55]]], np.float32)
    merged, kept, points = weighted_nms(boxes, scores, keypoints, 0.3)
    np.testing.assert_allclose(kept, [0.9, 0.7])
    np.testing.assert_allclose(merged[0], [0.6, 0, 10.6, 10], atol=1e-5)
    np.testing.assert_allclose(points[0, 0], [1.8, 0], atol=1e-5)
    np.testing.assert_allclose(merged[1], boxes[2])


# ------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------


def test_unknown_backend():
    with pytest.raises(ValueError, match="mediapipe, insightface"):
        make_detector("dlib", "models")


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelFileMissing, match="fetch-models"):
        make_detector("mediapipe", tmp_path)
    with pytest.raises(ModelFileMissing, match="det_10g.onnx"):
        make_detector("insightface", tmp_path, model="det_10g.onnx")


def test_bad_frames(require_model, models_dir):
    require_model(SHORT)
    with pytest.raises(ValueError, match="uint8"):
        make_detector("mediapipe", models_dir).detect(np.zeros((1, 64, 64, 3), np.float32))


# ------------------------------------------------------------------------------------------------
# insightface detector layouts, from generated ONNX files
# ------------------------------------------------------------------------------------------------

HIT_CELL = (10, 12)  # (row, column) of the stride-8 feature-map cell that holds the face
HIT_SCORE = 0.99
BOX_DISTANCES = (3.0, 4.0, 5.0, 6.0)  # left, top, right, bottom, in units of the stride
KEYPOINT_OFFSETS = (-1.0, -1.5, 1.0, -1.5, 0.0, 0.0, -1.0, 1.5, 1.0, 1.5)  # (dx, dy) × 5, stride units


def detector_onnx(path: Path, strides, anchors: int, keypoints: bool, batched: bool) -> Path:
    """Write an ONNX face detector in insightface's output layout that "finds" one fixed face.

    Input ``input.1`` [1, 3, H, W]. Outputs, in insightface's order: scores of every stride, then
    box distances, then keypoint offsets; each (N, C) or, batched, (1, N, C), with
    N = (H / stride) * (W / stride) * anchors rows ordered (row, column, anchor). Every score is 0
    except anchor 0 of cell :data:`HIT_CELL` of the stride-8 map; all box distances and keypoint
    offsets are constant. The maps are derived from the input, so any input size works.
    """
    from onnx import TensorProto, checker, helper, numpy_helper, save

    nodes, inits, outputs = [], [], []

    def const(name, value, dtype=np.float32):
        inits.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def node(op, inputs, output, **attrs):
        nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    node(
        "Slice", ["input.1", const("c0", [0], np.int64), const("c1", [1], np.int64), const("ax1", [1], np.int64)], "x0"
    )
    rows = {}
    for stride in strides:
        pooled = node("MaxPool", ["x0"], f"pool{stride}", kernel_shape=[stride, stride], strides=[stride, stride])
        zero = node("Mul", [pooled, const("zero", 0.0)], f"zero{stride}")
        ones = node("Add", [zero, const("one", 1.0)], f"ones{stride}")
        if stride == 8:
            column = node("CumSum", [ones, const("axis3", 3, np.int64)], "column")
            row = node("CumSum", [ones, const("axis2", 2, np.int64)], "row")
            at_column = node("Equal", [column, const("hit_column", HIT_CELL[1] + 1.0)], "at_column")
            at_row = node("Equal", [row, const("hit_row", HIT_CELL[0] + 1.0)], "at_row")
            hit = node("Cast", [node("And", [at_row, at_column], "hit")], "hit_float", to=TensorProto.FLOAT)
            first = node("Mul", [hit, const("hit_score", HIT_SCORE)], "score_map")
        else:
            first = zero
        per_anchor = node("Concat", [first] + [zero] * (anchors - 1), f"anchors{stride}", axis=1)
        nhwc = node("Transpose", [per_anchor], f"nhwc{stride}", perm=[0, 2, 3, 1])
        rows[stride] = node("Reshape", [nhwc, const("column_shape", [-1, 1], np.int64)], f"rows{stride}")
    shape_name = {1: "score", 4: "bbox", 10: "kps"}
    columns = [(1, None), (4, np.array(BOX_DISTANCES)), (10, np.array(KEYPOINT_OFFSETS))]
    for width, value in columns if keypoints else columns[:2]:
        for stride in strides:
            name = f"{shape_name[width]}_{stride}"
            if value is None:
                flat = rows[stride]
            else:
                zeros = node("Mul", [rows[stride], const("zero", 0.0)], f"{name}_zeros")
                flat = node("Add", [zeros, const(f"value{width}", value[None, :])], f"{name}_flat")
            if batched:
                node("Reshape", [flat, const(f"batched{width}", [1, -1, width], np.int64)], name)
                dims = [1, f"n{stride}", width]
            else:
                node("Identity", [flat], name)
                dims = [f"n{stride}", width]
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, dims))
    inits = list({i.name: i for i in inits}.values())
    graph = helper.make_graph(
        nodes,
        "detector",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, "height", "width"])],
        outputs,
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 6
    checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    save(model, str(path))
    return path


# name → (strides, anchors per cell, keypoints?, batched outputs?)
LAYOUTS = {
    # buffalo_l's SCRFD-10G: 9 outputs (3 strides × score/bbox/kps), 2 anchors, unbatched (N, C).
    "det_10g.onnx": ((8, 16, 32), 2, True, False),
    # antelopev2's SCRFD-10G: same heads, batched (1, N, C) outputs like scrfd_500m_bnkps.onnx.
    "scrfd_10g_bnkps.onnx": ((8, 16, 32), 2, True, True),
    # A RetinaFace-R50 export in insightface's layout with a 5-level FPN: 15 outputs, 1 anchor.
    "retinaface_r50.onnx": ((8, 16, 32, 64, 128), 1, True, True),
    # A detector without keypoint head: 6 outputs.
    "retinaface_r50_nokps.onnx": ((8, 16, 32), 2, False, False),
}


def expected_face(scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Box (4,) and keypoints (5, 2) in frame pixels when the frame is ``scale`` × the input."""
    centre = np.array([HIT_CELL[1] * 8.0, HIT_CELL[0] * 8.0])
    left, top, right, bottom = np.array(BOX_DISTANCES) * 8
    box = np.array([centre[0] - left, centre[1] - top, centre[0] + right, centre[1] + bottom])
    keypoints = centre + np.array(KEYPOINT_OFFSETS).reshape(5, 2) * 8
    return box * scale, keypoints * scale


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_insightface_layouts(tmp_path, name):
    strides, anchors, keypoints, batched = LAYOUTS[name]
    detector_onnx(tmp_path / "insightface" / name, strides, anchors, keypoints, batched)
    detector = make_detector("insightface", tmp_path, model=name, providers=["CPUExecutionProvider"])
    assert type(detector.model).__module__.startswith("insightface.model_zoo")
    frames = np.random.default_rng(0).integers(0, 256, (2, 256, 256, 3), dtype=np.uint8)
    for found in detector.detect(frames):
        box, points = expected_face()
        np.testing.assert_allclose(found.boxes, [box], atol=1e-3)
        np.testing.assert_allclose(found.scores, [HIT_SCORE], atol=1e-6)
        assert found.keypoints.shape == ((1, 5, 2) if keypoints else (1, 0, 2))
        if keypoints:
            np.testing.assert_allclose(found.keypoints[0], points, atol=1e-3)
    # A 512×384 frame with a fixed 256-px input: insightface scales it by 0.5 (top-left aligned).
    fixed = make_detector("insightface", tmp_path, model=name, input_size=256, providers=["CPUExecutionProvider"])
    [found] = fixed.detect(np.zeros((1, 384, 512, 3), np.uint8))
    box, points = expected_face(scale=2.0)
    np.testing.assert_allclose(found.boxes, [box], atol=1e-3)


def test_insightface_threshold_and_threads(tmp_path):
    detector_onnx(tmp_path / "insightface" / "det_10g.onnx", (8, 16, 32), 2, True, False)
    detector = make_detector("insightface", tmp_path, model="det_10g.onnx", score_threshold=0.995, threads=3)
    assert detector.model.session.get_session_options().intra_op_num_threads == 3
    [found] = detector.detect(np.zeros((1, 128, 128, 3), np.uint8))
    assert found.boxes.shape == (0, 4) and found.keypoints.shape == (0, 5, 2)


def test_insightface_input_size_must_be_multiple_of_32(tmp_path):
    detector_onnx(tmp_path / "insightface" / "det_10g.onnx", (8, 16, 32), 2, True, False)
    with pytest.raises(ValueError, match="multiple of 32"):
        make_detector("insightface", tmp_path, model="det_10g.onnx", input_size=100)
