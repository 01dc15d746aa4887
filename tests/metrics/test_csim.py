"""CSIM on real photographs and videos with the real MobileFaceNet ArcFace and SCRFD-500M."""

import av
import cv2
import numpy as np
import pytest

from headgan_model.metrics.csim import ARCFACE_MODEL, Embeddings, cosine_similarities, csim, make_embedder
from headgan_prep.demo.generate import _photo
from headgan_prep.models.registry import ModelFileMissing


@pytest.fixture(scope="module")
def embedder(require_model, models_dir):
    require_model(ARCFACE_MODEL)
    require_model("insightface/scrfd_500m_bnkps.onnx")
    return make_embedder(models_dir)


def video_frames(path, every=1):
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for i, f in enumerate(container.decode(video=0)) if i % every == 0]
    return np.stack(frames)


def read_rgb(path):
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_same_person_high(embedder, require_sample):
    # the portrait single_face.jpg and frames of a different recording of the same woman
    frames = video_frames(require_sample("pyfeat/single_face.mp4"), every=12)
    still = csim(read_rgb(require_sample("pyfeat/single_face.jpg"))[None], frames, embedder)
    assert still.details["pairs"] == len(frames) and still.warnings == ()
    # frames of one video paired with frames 48 later (the man turns and talks)
    video = video_frames(require_sample("pyfeat/WolfgangLanger_Pexels.mp4"), every=24)
    later = csim(video[:-2], video[2:], embedder)
    assert still.value > 0.45 and later.value > 0.45


def test_different_people_low(embedder, require_sample):
    astronaut = _photo("astronaut")[None]
    man = video_frames(require_sample("pyfeat/WolfgangLanger_Pexels.mp4"), every=60)
    woman = video_frames(require_sample("pyfeat/single_face.mp4"), every=12)
    names = ("0-f1-su-ph", "45-m7-di-ph")
    portraits = np.stack([cv2.resize(read_rgb(require_sample(f"pyfeat/{name}.jpg")), (512, 512)) for name in names])
    for reference, generated in ((astronaut, man), (astronaut, woman), (man[:1], woman), (woman[:1], portraits)):
        result = csim(reference, generated, embedder)
        assert result.value < 0.3 and result.details["pairs"] == len(generated)


def test_frames_without_a_face(embedder):
    astronaut = _photo("astronaut")
    grey = np.full_like(astronaut, 128)
    result = csim(astronaut[None], np.stack([astronaut, grey, astronaut]), embedder)
    assert result.value == pytest.approx(1.0, abs=1e-5)
    assert result.details == {"pairs": 2.0, "skipped": 1.0} and "1 of 3 frame pairs" in result.warnings[0]
    none = csim(grey[None], np.stack([astronaut]), embedder)
    assert none.value is None and "no face found" in none.missing


def test_cosine_similarities_by_hand():
    reference = Embeddings(np.array([[1.0, 0.0]], np.float32), np.array([True]))
    s = np.sqrt(0.5)
    generated = Embeddings(np.array([[1, 0], [s, s], [0, 0], [-1, 0]], np.float32), np.array([True, True, False, True]))
    similarity, valid = cosine_similarities(reference, generated)
    np.testing.assert_allclose(similarity, [1.0, s, 0.0, -1.0], atol=1e-7)
    np.testing.assert_array_equal(valid, [True, True, False, True])
    with pytest.raises(ValueError, match="give 1 or 4"):
        cosine_similarities(Embeddings(np.zeros((2, 2), np.float32), np.ones(2, bool)), generated)


def test_missing_model_is_reported_with_the_file(tmp_path, require_model, models_dir):
    result = csim(np.zeros((1, 64, 64, 3), np.uint8), np.zeros((1, 64, 64, 3), np.uint8), models_dir=tmp_path)
    assert result.value is None and str(tmp_path / "insightface") in result.missing
    detector = require_model("insightface/scrfd_500m_bnkps.onnx")
    (tmp_path / "insightface").mkdir()
    (tmp_path / "insightface" / detector.name).symlink_to(detector)
    with pytest.raises(ModelFileMissing, match="w600k_r50.onnx.*buffalo_l.zip"):
        make_embedder(tmp_path, model="insightface/w600k_r50.onnx")
