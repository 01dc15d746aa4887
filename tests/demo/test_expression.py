"""The demo faces' expression: the talking-and-blinking schedule, the warp of the mouth and eyes on
images whose pixels say where they came from, and the rendered clips against their ground truth."""

import numpy as np
import pytest

from headgan_prep.demo import expression
from headgan_prep.demo.expression import (
    MOUTH_COLOUR,
    MOUTH_MAX_OPENING,
    FacePoints,
    close_eye,
    express,
    open_mouth,
    talking_and_blinking,
)
from headgan_prep.demo.generate import GroundTruth, demo_portrait, expressive_clips, make_clip, make_demo
from tests.demo.test_generate import decode_frames

FPS = 25.0


def coordinate_image(size: int = 250) -> np.ndarray:
    """``(size, size, 4)`` uint8 whose red channel is the row and green the column (alpha 255)."""
    yy, xx = np.mgrid[0:size, 0:size]
    return np.dstack([yy, xx, np.full_like(yy, 200), np.full_like(yy, 255)]).astype(np.uint8)


def test_schedule_is_seeded_smooth_and_talks_and_blinks():
    times = np.arange(100) / FPS  # 4 s
    first = talking_and_blinking(np.random.default_rng(5), times)
    again = talking_and_blinking(np.random.default_rng(5), times)
    other = talking_and_blinking(np.random.default_rng(6), times)
    assert np.array_equal(first.mouth, again.mouth) and np.array_equal(first.eyes, again.eyes)
    assert not np.array_equal(first.mouth, other.mouth)
    for seed in range(20):
        schedule = talking_and_blinking(np.random.default_rng(seed), times)
        mouth, eyes = schedule.mouth, schedule.eyes
        assert 0 <= mouth.min() and mouth.max() <= 1 and 0 <= eyes.min() and eyes.max() <= 1
        assert mouth.max() >= 0.6 and (mouth < 0.1).sum() >= 3  # opens wide, closes between syllables
        closed = eyes >= 0.99
        starts = np.flatnonzero(closed[1:] & ~closed[:-1]) + 1
        assert 2 <= len(starts) <= 6 and (eyes == 0).mean() > 0.5  # a blink every 0.8-1.8 s, open otherwise
        assert np.abs(np.diff(mouth)).max() <= np.pi / expression.SYLLABLE_DURATION[0] / FPS + 1e-9
        assert np.abs(np.diff(eyes)).max() <= expression.BLINK_HOLD * np.pi / expression.BLINK_DURATION[0] / FPS


def test_open_mouth_moves_the_lower_lip_and_jaw_down_over_a_dark_mouth():
    image = coordinate_image()
    mouth = np.array([[60.0, 100.0], [140.0, 100.0], [100.0, 100.0]])  # level lips, 80 px wide
    opened = image.copy()
    open_mouth(opened, mouth, 12.0)
    middle = opened[:, 100].astype(int)
    assert np.array_equal(middle[:100], image[:100, 100])  # upper lip and above: untouched
    assert np.abs(middle[101:112, :3] - MOUTH_COLOUR).max() <= 1  # the opening, 12 px
    jaw = np.arange(113, 100 + int(expression.JAW_DEPTH * 80))
    assert np.abs(middle[jaw, 0] - (jaw - 12)).max() <= 1  # lower lip and chin: 12 px lower
    fade_end = 100 + int((expression.JAW_DEPTH + expression.NECK_DEPTH) * 80) + 1
    assert np.array_equal(middle[fade_end:], image[fade_end:, 100])  # below the fade: untouched
    assert (np.diff(middle[112:, 0]) >= 0).all()  # nothing folds
    beside = 100 - int((1 + expression.JAW_WIDENING) * 40) - 3
    assert np.array_equal(opened[:, :beside], image[:, :beside])
    # half-way to a corner the opening is 1 - s² = 3/4 of the middle's
    quarter = opened[:, 80].astype(int)
    assert 8 <= (np.abs(quarter[:, :3] - MOUTH_COLOUR).max(axis=1) <= 1).sum() <= 9


def test_close_eye_moves_the_upper_lid_down_over_the_eye():
    image = coordinate_image()
    eye = np.array([[60.0, 100.0], [100.0, 100.0], [80.0, 94.0], [80.0, 106.0]])  # 12 px high
    half, shut = image.copy(), image.copy()
    close_eye(half, eye, 0.5)
    close_eye(shut, eye, 1.0)
    # rows of the lid band and of the eye now come from the skin above the lid (tinted by its colour)
    assert (shut[94:106, 80, 0] <= 94).all() and np.array_equal(shut[107:, 80], image[107:, 80])
    assert (half[94:100, 80, 0] <= 94).all() and np.array_equal(half[101:, 80], image[101:, 80])
    assert np.array_equal(shut[:, :59], image[:, :59]) and np.array_equal(shut[:, 102:], image[:, 102:])
    assert np.array_equal(shut[: 94 - 12 - 3], image[: 94 - 12 - 3])  # the skin band is one eye height


def test_express_without_expression_is_the_photograph():
    portrait = demo_portrait(0)
    assert express(portrait.rgba, portrait.points, 0.0, 0.0) is portrait.rgba
    changed = express(portrait.rgba, portrait.points, 1.0, 1.0)
    assert changed.shape == portrait.rgba.shape and not np.array_equal(changed, portrait.rgba)
    assert np.array_equal(changed[..., 3], portrait.rgba[..., 3])


def test_face_points_follow_an_affine_map():
    points = FacePoints(np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 1.0]]), np.zeros((2, 4, 2)))
    moved = points.mapped(np.array([[2.0, 0.0, 3.0], [0.0, 2.0, -1.0]]))
    assert np.allclose(moved.mouth, [[3, -1], [23, -1], [13, 1]]) and np.allclose(moved.eyes, [3, -1])
    assert moved.mouth_width == pytest.approx(20.0)


def test_rendered_mouth_opens_as_the_ground_truth_says(tmp_path):
    portrait = demo_portrait(0)
    truth = make_clip(
        tmp_path / "clip.mp4", portrait, seconds=1.6, frame_size=(320, 240), face_size=120, seed=4, audio=False,
        expressive=True,
    )
    width = portrait.points.mouth_width * truth.side[:, 0] / portrait.face_side  # frame pixels
    assert 0 < truth.mouth_opening[:, 0].max() and (truth.mouth_opening[:, 0] <= MOUTH_MAX_OPENING * width + 1e-9).all()
    assert truth.eye_openness[:, 0].min() <= 1e-9 and truth.eye_openness[:, 0].max() == 1.0
    frames = decode_frames(tmp_path / "clip.mp4", (320, 240)).astype(np.float64)
    dark = []
    for t, frame in enumerate(frames):
        middle = truth.matrix[t, 0] @ np.r_[portrait.points.mouth[2], 1.0]
        column = frame[int(middle[1]) - 4 : int(middle[1] + width[t]), int(round(middle[0]))]
        dark.append((np.abs(column - MOUTH_COLOUR).max(axis=1) < 40).sum())
    dark = np.asarray(dark, np.float64)
    assert np.abs(dark - truth.mouth_opening[:, 0]).max() <= 2.5 + 0.1 * truth.mouth_opening[:, 0].max()
    assert np.corrcoef(dark, truth.mouth_opening[:, 0])[0, 1] >= 0.97


def test_expressive_fraction_picks_clips_evenly(tmp_path):
    assert expressive_clips(12, 0.75).tolist() == [False, True, True, True] * 3
    assert not expressive_clips(5, 0.0).any() and expressive_clips(5, 1.0).all()
    assert expressive_clips(4, 0.5).tolist() == [False, True, False, True]
    summary = make_demo(tmp_path, identities=2, clips_per_identity=2, seconds=0.6, frame_size=(128, 128),
                        face_size=48, audio=False, progress=False, expressive_fraction=0.5)
    for clip, expressive in zip(summary.clips, [False, True, False, True]):
        truth = GroundTruth.load(tmp_path / "ground_truth" / f"{clip.clip_id}.npz")
        assert truth.mouth_opening.shape == truth.eye_openness.shape == (15, 1)
        assert (truth.mouth_opening.max() > 1.0) == expressive and (truth.eye_openness == 1).all() != expressive
    with pytest.raises(ValueError):
        make_demo(tmp_path, expressive_fraction=1.5, progress=False)


def test_only_the_main_face_of_two_talks(tmp_path):
    truth = make_clip(tmp_path / "clip.mp4", demo_portrait(1), seconds=0.8, frame_size=(320, 192), audio=False,
                      faces="two", expressive=True)
    assert truth.mouth_opening[:, 0].max() > 0 and (truth.mouth_opening[:, 1] == 0).all()
    assert (truth.eye_openness[:, 1] == 1).all()
