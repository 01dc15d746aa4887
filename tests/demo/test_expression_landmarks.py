"""The demo's expressive clips through ingest and the pipeline's own landmarks (real FaceMesh): the
landmarks' inner-lip gap follows the true mouth opening, the blinks show, a neutral clip stays still."""

import numpy as np
import pytest
import zarr
from tests.demo_faces import demo_sources, truth_in_crop
from tests.real_faces import mouth_gap

from headgan_prep.fit.expression import openings
from headgan_prep.ingest.shard import IngestConfig, ingest_shard
from headgan_prep.landmarks.shard import LandmarksConfig, landmarks_shard


@pytest.fixture(scope="module")
def demo_landmarks(require_model, models_dir, tmp_path_factory):
    for relative in ("mediapipe/face_detection_short_range.tflite", "mediapipe/face_landmark.tflite"):
        require_model(relative)
    work = tmp_path_factory.mktemp("demo-landmarks")
    sources = demo_sources(work / "demo", identities=2)  # clips 1-3 expressive, clip 0 (the astronaut's first) not
    crops, landmarks = work / "crops.zarr", work / "landmarks.zarr"
    ingest_shard(sources, crops, work / "rejected_ingest.tsv", IngestConfig(), models_dir, progress=False)
    landmarks_shard(crops, landmarks, work / "rejected_landmarks.tsv", LandmarksConfig(), models_dir, progress=False)
    points = zarr.open_group(str(landmarks), mode="r")
    clips = {}
    for source in sources:
        opening, openness = truth_in_crop(work / "demo", crops, source.clip_id)
        clips[source.clip_id] = (points[source.clip_id]["ibug68"][...], opening, openness)
    return clips


def test_the_inner_lip_gap_follows_the_true_opening(demo_landmarks):
    expressive = {k: v for k, v in demo_landmarks.items() if v[1].max() > 0}
    assert len(expressive) == 3
    for clip_id, (ibug68, opening, _) in expressive.items():
        gap = mouth_gap(ibug68)
        assert np.corrcoef(gap, opening)[0, 1] >= 0.9, clip_id
        assert 0.4 <= np.polyfit(opening, gap, 1)[0] <= 1.5, clip_id  # px of gap per px of opening


def test_a_neutral_clip_keeps_its_mouth_and_eyes(demo_landmarks):
    (ibug68, opening, openness), = (v for v in demo_landmarks.values() if v[1].max() == 0)
    assert (openness == 1).all()
    assert np.std(mouth_gap(ibug68)) < 0.6  # px, in the 256 crop


def test_the_astronauts_blinks_show_in_the_landmarks(demo_landmarks):
    # the astronaut's eyes are wide open in her photograph; the other faces' are narrow or look down,
    # and FaceMesh hardly sees their lids move
    ibug68, _, openness = demo_landmarks["id00001_00002"]
    eyes = openings(ibug68)[:, 1:].sum(axis=1)
    assert (openness <= 0.2).any() and (openness == 1).sum() >= 10
    assert np.median(eyes[openness <= 0.2]) <= 0.85 * np.median(eyes[openness == 1])
    assert np.corrcoef(eyes, openness)[0, 1] >= 0.6
