"""Model registry and lookup."""

import pytest

from headgan_prep.models import registry as models
from headgan_prep.models.registry import (
    REGISTRY,
    ModelFileMissing,
    describe_models,
    resolve_model,
    sha256_of,
)

# ------------------------------------------------------------------------------------------------
# registry and lookup
# ------------------------------------------------------------------------------------------------


def test_registry_layout():
    assert {
        "mediapipe/face_detection_short_range.tflite",
        "mediapipe/face_detection_full_range_sparse.tflite",
        "mediapipe/face_landmark.tflite",
        "insightface/scrfd_500m_bnkps.onnx",
        "insightface/det_10g.onnx",
        "insightface/scrfd_10g_bnkps.onnx",
        "insightface/1k3d68.onnx",
    } <= set(REGISTRY)
    for path, entry in REGISTRY.items():
        assert entry.path == path and entry.group in models.GROUPS
        assert ("Apache" in entry.licence) == (entry.group in ("mediapipe", "i3d", "pytorch-fid"))
        if entry.fetchable:
            assert entry.sha256 and entry.size and "==" in entry.source.requirement


@pytest.mark.parametrize("relative", sorted(p for p, e in REGISTRY.items() if e.sha256))
def test_present_files_match_registry(require_model, relative):
    path = require_model(relative)
    assert path.stat().st_size == REGISTRY[relative].size
    assert sha256_of(path) == REGISTRY[relative].sha256


def test_missing_fetchable_file_message(tmp_path):
    with pytest.raises(ModelFileMissing) as caught:
        resolve_model(tmp_path, "mediapipe/face_detection_short_range.tflite")
    message = str(caught.value)
    assert str(tmp_path / "mediapipe/face_detection_short_range.tflite") in message
    assert "BlazeFace short-range" in message and "Apache-2.0" in message
    assert f"headgan-prep fetch-models --models-dir {tmp_path}" in message
    assert isinstance(caught.value, FileNotFoundError)
    assert caught.value.path == tmp_path / "mediapipe/face_detection_short_range.tflite"


def test_missing_pack_file_message(tmp_path):
    with pytest.raises(ModelFileMissing) as caught:
        resolve_model(tmp_path, "insightface/det_10g.onnx")
    message = str(caught.value)
    assert str(tmp_path / "insightface/det_10g.onnx") in message
    assert "buffalo_l.zip" in message and "github.com/deepinsight/insightface/releases" in message
    assert "non-commercial" in message


def test_missing_unknown_file_message(tmp_path):
    with pytest.raises(ModelFileMissing, match="not a known model file"):
        resolve_model(tmp_path, "insightface/retinaface_r50.onnx")


def test_resolve_present(tmp_path):
    (tmp_path / "mediapipe").mkdir()
    (tmp_path / "mediapipe" / "face_landmark.tflite").write_bytes(b"x")
    assert resolve_model(tmp_path, "mediapipe/face_landmark.tflite") == tmp_path / "mediapipe/face_landmark.tflite"


def test_describe_models(tmp_path):
    (tmp_path / "mediapipe").mkdir()
    (tmp_path / "mediapipe" / "face_landmark.tflite").write_bytes(b"not the model")
    table = describe_models(tmp_path).splitlines()
    assert len(table) == len(REGISTRY) + 1
    assert table[0].split()[:4] == ["file", "status", "licence", "source"]
    rows = {line.split()[0]: line for line in table[1:]}
    assert rows["mediapipe/face_landmark.tflite"].split()[1] == "corrupt"
    assert rows["insightface/det_10g.onnx"].split()[1] == "missing"
    assert "mediapipe==0.10.21" in rows["mediapipe/face_detection_short_range.tflite"]
