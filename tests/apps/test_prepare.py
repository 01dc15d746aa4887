"""Users' images through the ingest's detection and crop: one face is cropped, none or two are refused."""

import cv2
import numpy as np
import pytest
from skimage import data
from tests.face_3dmm import synthetic_model

from headgan_model.apps.prepare import InputRejected, PipelineSettings, Preparer
from headgan_prep.audio.shard import AudioConfig
from headgan_prep.fit.algorithm import FitConfig
from headgan_prep.ingest.shard import IngestConfig
from headgan_prep.landmarks.shard import LandmarksConfig
from headgan_prep.render.renderer import RenderConfig


@pytest.fixture(scope="module")
def preparer(request):
    require_model = request.getfixturevalue("require_model")
    require_model("mediapipe/face_landmark.tflite")
    models = require_model("mediapipe/face_detection_short_range.tflite").parents[1]
    settings = PipelineSettings(IngestConfig(), LandmarksConfig(), FitConfig(), RenderConfig(), AudioConfig())
    return Preparer(settings, models, synthetic_model(n_vertices=468))


def save(path, image):
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return path


def test_one_face_is_cropped_as_ingest_crops(preparer, tmp_path):
    image, box = preparer._image_crop(save(tmp_path / "astronaut.png", data.astronaut()))
    assert image.shape == (512, 512, 3) and 100 < box.side < 512
    face = image[max(box.y0, 0) : box.y0 + box.side, max(box.x0, 0) : box.x0 + box.side]
    assert face.std() > 20


def test_no_face_and_two_faces_are_the_ingest_reasons(preparer, tmp_path):
    with pytest.raises(InputRejected, match="ingest.*no_face") as error:
        preparer.prepare(save(tmp_path / "grey.png", np.full((300, 300, 3), 128, np.uint8)))
    assert error.value.reason == "no_face"
    face = cv2.resize(data.astronaut()[:300, 80:380], (240, 240))
    with pytest.raises(InputRejected, match="multiple_faces"):
        preparer.prepare(save(tmp_path / "two.png", np.concatenate([face, face], axis=1)))
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(InputRejected, match="unreadable"):
        preparer.prepare(tmp_path / "broken.jpg")


def test_a_video_ingest_would_reject_gives_its_reason(preparer, tmp_path):
    from headgan_model.apps.video import write_mp4

    frames = np.repeat(cv2.resize(data.astronaut(), (128, 128))[None], 10, axis=0)
    with pytest.raises(InputRejected, match=r"ingest \(decode\): too_short \(10 frames < min_frames=25\)"):
        preparer.prepare(write_mp4(tmp_path / "short.mp4", frames))
