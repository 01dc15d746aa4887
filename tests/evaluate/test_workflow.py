"""`snakemake evaluate` on the demo data: a tiny model trained, its applications run and scored."""

from __future__ import annotations

import json

import pytest
from tests.test_workflow import TINY_TRAINING, job_rules, snakemake, tiny_config

from headgan_model.evaluate.report import OUTPUTS
from headgan_model.metrics.fid import FID_WEIGHTS_FILENAME


@pytest.fixture(scope="module")
def evaluate_models(request):
    """The workflow's landmark models and the metrics' fetched models (one models folder)."""
    require_model = request.getfixturevalue("require_model")
    for relative in (
        "mediapipe/face_landmark.tflite",
        "lpips/alexnet.ckpt",
        "lpips/v0.1/alex.pth",
        "i3d/i3d-kinetics-400.ckpt",
        "insightface/w600k_mbf.onnx",
        "insightface/scrfd_500m_bnkps.onnx",
    ):
        require_model(relative)
    return require_model("mediapipe/face_detection_short_range.tflite").parents[1]


@pytest.mark.slow
def test_evaluate_on_the_demo_writes_every_table(tmp_path, evaluate_models):
    config = tiny_config(tmp_path, evaluate_models)
    config["train"] = dict(TINY_TRAINING)
    # the demo's test split holds one identity: reenactment sources come from the training split
    config["apps"] = {"reenact": {"source_split": "train", "n_pairs": 2}, "video": {"preset": "ultrafast"}}
    snakemake(tmp_path, "train", config=config)
    snakemake(tmp_path, "evaluate", config=config)
    run = tmp_path / "results/eval/headgan"
    for name in (*OUTPUTS, "reconstruct.csv", "reenact.csv", "frontalise.csv"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())["tasks"]
    assert metrics["reconstruct"]["L1"]["value"] > 0 and metrics["reconstruct"]["LPIPS"]["value"] > 0
    assert FID_WEIGHTS_FILENAME in metrics["reconstruct"]["FID"]["missing"]
    # no syncnet_v2.model here: LSE is missing, naming it; AKD runs FaceMesh on the generated frames
    assert "syncnet_v2.model" in metrics["reenact"]["LSE-C"]["missing"]
    akd = metrics["reconstruct"]["AKD"]
    assert akd["value"] is not None or "no face" in akd["missing"]
    protocol = json.loads((run / "protocol.json").read_text())
    assert protocol["tasks"]["reenact"]["pairs"] == 2
    assert protocol["weights"]["generator"]["sha256"] and protocol["resolution"] == ["256x256"]
    assert "| **headgan** |" in (run / "table1.md").read_text()
    assert "Nothing to be done" in snakemake(tmp_path, "-n", "evaluate", config=config).stdout
    config["evaluate"] = {"seed": 1}
    assert set(job_rules(snakemake(tmp_path, "-n", "evaluate", config=config).stdout)) == {
        "evaluate_reconstruct", "evaluate_reenact", "evaluate_frontalise", "evaluate_report", "evaluate",
    }  # fmt: skip
