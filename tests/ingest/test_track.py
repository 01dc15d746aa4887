import numpy as np
import pytest

from headgan_prep.ingest.detect import Detections
from headgan_prep.ingest.track import (
    CropBox,
    Track,
    check_face_presence,
    check_face_size,
    check_length,
    check_padding,
    check_motion,
    check_multiple_faces,
    crop_box,
    crop_frames,
    inside_frame,
    interpolate_track,
    padding,
    pairwise_iou,
    select_main_face,
)


def frame(*boxes, scores=None) -> Detections:
    """Detections of one frame from ``[x0, y0, x1, y1]`` boxes."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    scores = np.full(len(boxes), 0.9, np.float32) if scores is None else np.asarray(scores, np.float32)
    return Detections(boxes, scores, np.zeros((len(boxes), 6, 2), np.float32))


def make_track(boxes, second=None) -> Track:
    boxes = np.asarray(boxes, np.float32)
    n = len(boxes)
    ratio = np.zeros(n, np.float32) if second is None else np.asarray(second, np.float32)
    return Track(boxes, np.where(np.isnan(boxes[:, 0]), 0, 0.9).astype(np.float32), np.ones(n, np.int32), ratio)


MAIN = [100, 100, 200, 200]
SMALL = [400, 50, 440, 90]


def test_pairwise_iou_values():
    iou = pairwise_iou(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]]))
    np.testing.assert_allclose(iou, [[1.0, 1 / 3, 0.0]], rtol=1e-6)


def test_follows_main_face_through_a_distractor_frame():
    moving = [[100 + 5 * t, 100, 200 + 5 * t, 200] for t in range(6)]
    dets = [frame(box, SMALL) for box in moving]
    # frame 3: a confident distractor listed first, and the main face lower in the list
    dets[3] = frame([300, 300, 420, 420], moving[3], scores=[0.99, 0.6])
    track = select_main_face(dets)
    np.testing.assert_allclose(track.boxes, np.asarray(moving, np.float32))
    assert track.valid.all()
    np.testing.assert_array_equal(track.n_faces, [2, 2, 2, 2, 2, 2])
    np.testing.assert_allclose(track.second_face_ratio[3], 1.2, rtol=1e-6)  # 120 px vs 100 px
    np.testing.assert_allclose(track.second_face_ratio[0], 0.4, rtol=1e-6)  # 40 px vs 100 px


def test_missing_frames_are_nan_and_tracking_resumes():
    dets = [frame(MAIN), frame(), frame([700, 700, 750, 750]), frame([104, 100, 204, 200])]
    track = select_main_face(dets)
    assert track.valid.tolist() == [True, False, False, True]
    assert np.isnan(track.boxes[1:3]).all() and track.scores[1] == 0
    np.testing.assert_allclose(track.boxes[3], [104, 100, 204, 200])
    # frame 2's only face is someone else: relative to the main face's median box (≈100 px)
    np.testing.assert_allclose(track.second_face_ratio[2], 0.5, rtol=0.05)


def test_seed_prefers_persistent_face_over_larger_brief_one():
    big_brief = [0, 0, 300, 300]
    dets = [frame(MAIN, big_brief) if t == 0 else frame(MAIN) for t in range(10)]
    track = select_main_face(dets)
    np.testing.assert_allclose(track.boxes, np.tile(np.float32(MAIN), (10, 1)))


def test_seed_prefers_larger_of_two_persistent_faces():
    dets = [frame(SMALL, MAIN, scores=[0.99, 0.8]) for _ in range(5)]
    track = select_main_face(dets)
    np.testing.assert_allclose(track.boxes[0], MAIN)
    np.testing.assert_allclose(track.second_face_ratio, 0.4, rtol=1e-6)


def test_no_detection_at_all():
    track = select_main_face([frame(), frame()])
    assert not track.valid.any() and track.n_faces.tolist() == [0, 0]
    with pytest.raises(ValueError):
        crop_box(track)


def test_crop_box_median_square_margin():
    boxes = [[10, 20, 50, 80], [12, 22, 52, 82], [14, 24, 54, 84], [np.nan] * 4]
    # medians: x0=12 y0=22 x1=52 y1=82 → centre (32, 52), w=40 h=60 → side 1.5 * 60 = 90
    box = crop_box(make_track(boxes), margin=1.5)
    assert box == CropBox(x0=-13, y0=7, side=90) == (-13, 7, 90)
    assert box.center == (32.0, 52.0)
    assert crop_box(make_track(boxes), margin=1.5, frame_size=(64, 48)).side == 64
    shifted = crop_box(make_track(boxes), margin=1.5, center_shift=0.1)  # up by 0.1 * 60 = 6 px
    assert shifted == CropBox(x0=-13, y0=1, side=90)


def test_check_length_boundary():
    assert check_length(25, 25) is None
    assert check_length(24, 25).reason == "too_short"


def test_check_face_presence_boundary():
    boxes = [MAIN] * 8 + [[np.nan] * 4] * 2
    assert check_face_presence(make_track(boxes), 0.8) is None
    rejection = check_face_presence(make_track(boxes), 0.81)
    assert rejection.reason == "no_face" and "80.0%" in rejection.detail


def test_check_motion_displacement_boundary():
    box = CropBox(0, 0, 100)  # centre (50, 50)
    track = make_track([[40, 40, 60, 60], [60, 40, 80, 60]])  # centres (50, 50) and (70, 50): 0.2 side
    assert check_motion(track, box, max_motion=0.2, max_scale_change=2) is None
    assert check_motion(track, box, max_motion=0.19, max_scale_change=2).reason == "large_motion"


def test_check_motion_scale_boundary():
    box = CropBox(0, 0, 100)
    track = make_track([[40, 40, 60, 60], [35, 35, 65, 65]])  # 20 px then 30 px: 1.5x
    assert check_motion(track, box, max_motion=1, max_scale_change=1.5) is None
    rejection = check_motion(track, box, max_motion=1, max_scale_change=1.49)
    assert rejection.reason == "large_motion" and "1.50x" in rejection.detail


def test_check_multiple_faces_boundary():
    track = make_track([MAIN] * 10, second=[0.7] * 2 + [0.3] * 8)  # 20 % of frames
    assert check_multiple_faces(track, max_second_face_ratio=0.7, min_fraction=0.2).reason == "multiple_faces"
    assert check_multiple_faces(track, max_second_face_ratio=0.7, min_fraction=0.21) is None
    assert check_multiple_faces(track, max_second_face_ratio=0.71, min_fraction=0.01) is None


def test_crop_frames_inside_and_padding():
    frames = np.zeros((2, 40, 60, 3), np.uint8)
    frames[:, 10:20, 20:30] = 200
    inside = crop_frames(frames, CropBox(20, 10, 10), size=10)
    assert inside.shape == (2, 10, 10, 3) and (inside == 200).all()
    # a box hanging 10 px over the left and top edges: black with pad="black"
    padded = crop_frames(np.full((1, 40, 60, 3), 255, np.uint8), CropBox(-10, -10, 20), size=20, pad="black")
    assert (padded[0, :10, :] == 0).all() and (padded[0, :, :10] == 0).all()
    assert (padded[0, 10:, 10:] == 255).all()
    # edge replication (the default) repeats the frame's first row and column
    ramp = np.broadcast_to(np.arange(60, dtype=np.uint8)[None, None, :, None] * 4, (1, 40, 60, 3)).copy()
    replicated = crop_frames(ramp, CropBox(-10, -10, 20), size=20)
    assert (replicated[0, :, :10] == 0).all() and (replicated[0, 0, 10:] == ramp[0, 0, :10]).all()
    reflected = crop_frames(ramp, CropBox(-10, -10, 20), size=20, pad="reflect")
    np.testing.assert_array_equal(reflected[0, 0, :10], ramp[0, 0, 10:0:-1])


def test_crops_are_shifted_inside_the_frame_where_they_fit():
    assert inside_frame(CropBox(-10, 30, 40), (100, 60)) == CropBox(0, 20, 40)
    assert inside_frame(CropBox(70, -5, 40), (100, 60)) == CropBox(60, 0, 40)
    assert inside_frame(CropBox(10, 10, 40), (100, 60)) == CropBox(10, 10, 40)  # inside already
    # taller than the frame: only as far as needed to cover it, the rest stays outside
    assert inside_frame(CropBox(10, -30, 80), (100, 60)) == CropBox(10, -20, 80)
    assert inside_frame(CropBox(10, -5, 80), (100, 60)) == CropBox(10, -5, 80)
    margins, fraction = padding(CropBox(10, -5, 80), (100, 60))
    assert margins == (0, 5, 0, 15) and fraction == pytest.approx(20 / 80)
    assert check_padding(CropBox(10, -5, 80), (100, 60), 0.25) is None
    assert check_padding(CropBox(10, -5, 80), (100, 60), 0.2).reason == "out_of_frame"
    assert padding(CropBox(0, 0, 40), (100, 60)) == ((0, 0, 0, 0), 0.0)


def test_small_faces_are_low_resolution():
    track = make_track([[0, 0, 30, 40]] * 3)
    assert check_face_size(track, 2.0, 80) is None  # 40 px tall, 80 source pixels
    assert check_face_size(track, 2.0, 81).reason == "low_resolution"


def test_crop_frames_shrinks_with_area_averaging():
    frames = np.zeros((1, 8, 8, 3), np.uint8)
    frames[0, ::2] = 255  # alternate white and black rows
    out = crop_frames(frames, CropBox(0, 0, 8), size=4)
    np.testing.assert_array_equal(out, np.full((1, 4, 4, 3), 128, np.uint8))


def test_crop_frames_fully_outside_is_black():
    out = crop_frames(np.full((3, 10, 10, 3), 255, np.uint8), CropBox(50, 50, 10), size=8)
    assert out.shape == (3, 8, 8, 3) and not out.any()


def test_interpolate_track_between_keyframes():
    key = make_track([[0, 0, 10, 10], [6, 0, 16, 10], [np.nan] * 4, [20, 20, 30, 30]])
    full = interpolate_track(key, np.array([0, 3, 6, 7]), 8)
    np.testing.assert_allclose(full.boxes[:4, 0], [0, 2, 4, 6])
    assert full.valid.tolist() == [True, True, True, True, False, False, False, True]
    assert full.scores[4] == 0 and full.scores[1] == pytest.approx(0.9)
    np.testing.assert_allclose(full.boxes[7], [20, 20, 30, 30])
    with pytest.raises(ValueError):
        interpolate_track(key, np.array([1, 3, 6, 7]), 8)


def blazeface_keypoints(box, face_scale=1.0):
    """BlazeFace-like keypoints (eyes, nose, mouth, ears) of a face filling ``face_scale`` of ``box``."""
    x0, y0, x1, y1 = box
    cx, cy, side = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * face_scale
    offsets = np.array([[-0.2, -0.1], [0.2, -0.1], [0.0, 0.05], [0.0, 0.25], [-0.45, 0.0], [0.45, 0.0]])
    return np.array([cx, cy]) + offsets * side


def test_second_face_sized_by_keypoints_not_by_an_inflated_box():
    blurred = [300, 40, 396, 136]  # a box 96 px wide around a background face only 60 px wide
    dets = []
    for _ in range(5):
        keypoints = np.stack([blazeface_keypoints(MAIN), blazeface_keypoints(blurred, face_scale=60 / 96)])
        dets.append(Detections(np.asarray([MAIN, blurred], np.float32), np.float32([0.9, 0.6]),
                               keypoints.astype(np.float32)))
    track = select_main_face(dets)
    np.testing.assert_allclose(track.second_face_ratio, 0.6, rtol=1e-5)  # box-based: 0.96
    assert check_multiple_faces(track, max_second_face_ratio=0.7, min_fraction=0.2) is None
    # without usable keypoints (here: all at one point) the boxes are compared, as before
    flat = [Detections(d.boxes, d.scores, np.zeros_like(d.keypoints)) for d in dets]
    np.testing.assert_allclose(select_main_face(flat).second_face_ratio, 0.96, rtol=1e-5)
