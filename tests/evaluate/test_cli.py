"""The evaluation's command line: score files and the report from synthetic applications outputs."""

from __future__ import annotations

import json

import numpy as np
from tests.evaluate.conftest import write_apps_outputs

from headgan_model.apps.clips import split_clips
from headgan_model.apps.video import write_mp4
from headgan_model.evaluate.cli import main
from headgan_prep.dataset.reader import DatasetReader

SETTINGS = json.dumps({"metrics": ["L1", "PSNR", "SSIM"]})


def test_tasks_and_report(tmp_path, capsys):
    outputs = write_apps_outputs(tmp_path / "results")
    out = outputs.results / "eval/demo"
    common = ["--index", str(outputs.test_index), "--models-dir", str(tmp_path / "models"), "--settings", SETTINGS]
    videos = [str(p) for p in outputs.task_dirs("reconstruct")]
    args = [
        "reconstruct",
        *common,
        "--videos",
        *videos,
        "--scores",
        str(out / "scores/reconstruct.json"),
        "--csv",
        str(out / "reconstruct.csv"),
    ]
    assert main(args) == 0
    model = tmp_path / "absent.h5"
    head_pose = ["--model", str(model)]
    args = ["reenact", *common, *head_pose, "--source-index", str(outputs.train_index), "--videos", str(outputs.run / "reenact/videos"),
            "--scores", str(out / "scores/reenact.json"), "--csv", str(out / "reenact.csv")]  # fmt: skip
    assert main(args) == 0
    videos = [str(p) for p in outputs.task_dirs("frontalise")]
    args = [
        "frontalise",
        *common,
        *head_pose,
        "--videos",
        *videos,
        "--scores",
        str(out / "scores/frontalise.json"),
        "--csv",
        str(out / "frontalise.csv"),
    ]
    assert main(args) == 0
    generator = tmp_path / "generator.pt"
    generator.write_bytes(b"weights")
    scores = [f"{task}={out / f'scores/{task}.json'}" for task in ("reconstruct", "reenact", "frontalise")]
    args = ["report", "--run", "demo", "--out", str(out), "--scores", *scores, "--index", str(outputs.test_index),
            "--generator", str(generator), "--model", str(model), "--settings", SETTINGS, "--apps-settings", "{}"]  # fmt: skip
    assert main(args) == 0
    protocol = json.loads((out / "protocol.json").read_text())
    assert protocol["weights"]["generator"]["bytes"] == 7 and protocol["weights"]["morphable_model"] == {
        "path": str(model),
        "missing": True,
    }
    assert protocol["tasks"]["reconstruct"]["torch_threads"] == 1
    metrics = json.loads((out / "metrics.json").read_text())["tasks"]
    assert metrics["reconstruct"]["SSIM"]["value"] > 0
    assert "not in evaluate.metrics" in metrics["reenact"]["ARD"]["missing"]


def test_a_video_of_another_length_stops_the_job_with_a_message(tmp_path, capsys):
    outputs = write_apps_outputs(tmp_path / "results")
    folder = outputs.task_dirs("reconstruct")[0]
    clip = split_clips(DatasetReader(outputs.test_index), folder.name)[0]
    write_mp4(folder / f"{clip.clip_id}.mp4", np.zeros((clip.n_frames + 2, 64, 64, 3), np.uint8))
    out = tmp_path / "eval"
    args = ["reconstruct", "--index", str(outputs.test_index), "--models-dir", str(tmp_path), "--settings", SETTINGS,
            "--videos", str(folder), "--scores", str(out / "s.json"), "--csv", str(out / "c.csv")]  # fmt: skip
    assert main(args) == 2
    error = capsys.readouterr().err
    assert clip.clip_id in error and f"{clip.n_frames + 2} frames" in error and not (out / "s.json").exists()
