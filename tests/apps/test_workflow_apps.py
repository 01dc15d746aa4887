"""`snakemake apps` on the demo after a small training, and `headgan-infer reenact` on its files."""

import subprocess
import sys

import av
import cv2
import pytest
from tests.test_workflow import TINY_TRAINING, snakemake, tiny_config, workflow_models  # noqa: F401

from headgan_model.apps.tables import read_tsv
from headgan_model.apps.video import read_mp4


@pytest.mark.slow
def test_apps_target_writes_every_task_and_infer_reenacts_a_demo_frame(tmp_path, workflow_models):  # noqa: F811
    config = tiny_config(tmp_path, workflow_models)
    config["train"] = dict(TINY_TRAINING)
    # the demo's test split holds one identity: sources from the training split
    config["apps"] = {
        "device": "cpu",
        "reenact": {"source_split": "train", "n_pairs": 2},
        "compress": {"max_clips": 1, "bitrates": [16.0, 64.0]},
    }
    snakemake(tmp_path, "apps", config=config)
    apps = tmp_path / "results/apps/headgan"
    for task in ("reconstruct", "frontalise"):
        folder = next(p for p in (apps / task).iterdir() if p.is_dir())
        for row in read_tsv(folder / "clips.tsv"):
            frames, audio, info = read_mp4(folder / f"{row['clip_id']}.mp4")
            assert len(frames) == int(row["n_frames"]) and info["fps"] == 25 and frames.shape[1:] == (256, 256, 3)
        assert (apps / f"{task}/{folder.name}.png").is_file()
    pairs = read_tsv(apps / "reenact/videos/pairs.tsv")
    assert len(pairs) == 2 and all(p["driving_identity"] != p["source_identity"] for p in pairs)
    assert {"grid.png", "nmfc.png", "edits.tsv"} <= {p.name for p in (apps / "edit").iterdir()}
    assert "libx265" in (apps / "compress/streams/table.md").read_text() and (apps / "compress/rate_quality.png").is_file()
    assert "Nothing to be done" in snakemake(tmp_path, "-n", "apps", config=config).stdout

    driving = next((tmp_path / "results/demo/videos").rglob("*.mp4"))
    with av.open(str(driving)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="bgr24")
    cv2.imwrite(str(tmp_path / "face.png"), frame)
    command = [
        sys.executable,
        "-m",
        "headgan_model.apps.infer",
        "reenact",
        "--source",
        str(tmp_path / "face.png"),
        "--driving",
        str(driving),
        "--generator",
        str(tmp_path / "results/train/headgan/generator.pt"),
        "--out",
        str(tmp_path / "out.mp4"),
        "--results",
        str(tmp_path / "results"),
        "--models-dir",
        str(workflow_models),
        "--settings",
        '{"device": "cpu"}',
    ]
    subprocess.run(command, check=True, cwd=tmp_path, capture_output=True)
    frames, audio, info = read_mp4(tmp_path / "out.mp4")
    with av.open(str(driving)) as container:
        n_driving = sum(1 for _ in container.decode(video=0))
    assert len(frames) == n_driving and info["fps"] == 25 and audio is not None
