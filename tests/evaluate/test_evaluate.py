"""Scores, tables and protocol of an evaluation, from synthetic applications outputs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.evaluate.conftest import SHARDS, write_apps_outputs

from headgan_model.apps.clips import split_clips
from headgan_model.apps.video import write_mp4
from headgan_model.evaluate.distributions import FidSet
from headgan_model.evaluate.frontalisation import sampled_frames, score_frontalisation
from headgan_model.evaluate.networks import Networks
from headgan_model.evaluate.reconstruction import score_reconstruction
from headgan_model.evaluate.reenactment import score_reenactment
from headgan_model.evaluate.report import OUTPUTS, write_report
from headgan_model.evaluate.scores import write_scores
from headgan_model.evaluate.settings import EvaluateConfigError, EvaluateSettings
from headgan_model.evaluate.videos import read_frames
from headgan_model.metrics.fid import FID_WEIGHTS_FILENAME, FIDInception
from headgan_model.metrics.frames import FrameMismatch
from headgan_prep.dataset.reader import DatasetReader

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def evaluate(outputs, models: Path, out: Path, settings: EvaluateSettings) -> dict:
    """Score the three tasks on one torch thread (LPIPS and I3D sums change in their last digits with
    the thread count) and write the report into ``out``; returns the protocol."""
    networks, threads = Networks(settings, models), torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        scores = (
            score_reconstruction(outputs.test_index, outputs.task_dirs("reconstruct"), networks),
            score_reenactment(outputs.test_index, outputs.train_index, outputs.run / "reenact/videos", networks),
            score_frontalisation(outputs.test_index, outputs.task_dirs("frontalise"), networks),
        )
    finally:
        torch.set_num_threads(threads)
    for task in scores:
        write_scores(task, out / f"scores/{task.task}.json", out / f"{task.task}.csv")
    files = {task.task: out / f"scores/{task.task}.json" for task in scores}
    return write_report("demo", out, files, settings, {"video": {"crf": 18}}, outputs.test_index, {}, out.parent)


@pytest.fixture(scope="module")
def report(apps_outputs, metric_models, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "eval/demo"
    protocol = evaluate(apps_outputs, metric_models, out, EvaluateSettings(runs=["ablation"]))
    return out, protocol


def test_pixel_scores_are_those_of_the_decoded_videos(apps_outputs, report):
    out, _ = report
    metrics = json.loads((out / "metrics.json").read_text())["tasks"]["reconstruct"]
    differences = []
    for folder in apps_outputs.task_dirs("reconstruct"):
        for clip in split_clips(DatasetReader(apps_outputs.test_index), folder.name):
            generated = read_frames(folder / f"{clip.clip_id}.mp4").astype(np.float64)
            differences.append((generated - clip.frames).reshape(-1))
    differences = np.concatenate(differences)
    assert metrics["L1"]["value"] == pytest.approx(np.abs(differences).mean(), rel=1e-9)
    psnr = 20 * np.log10(255) - 10 * np.log10(np.mean(differences**2))
    assert metrics["PSNR"]["value"] == pytest.approx(psnr, rel=1e-9)
    assert 0 < metrics["LPIPS"]["value"] < 1 and 0 < metrics["SSIM"]["value"] < 1
    rows = (out / "reconstruct.csv").read_text().splitlines()
    assert rows[0].startswith("clip_id,shard,n_frames,reference,L1,PSNR,SSIM,LPIPS,CSIM")
    assert len(rows) == 1 + sum(len(c) for s, c in SHARDS.items() if s.startswith("test"))


def test_missing_fid_weights_are_named_and_the_other_metrics_computed(report):
    out, _ = report
    tasks = json.loads((out / "metrics.json").read_text())["tasks"]
    for task in ("reconstruct", "reenact", "frontalise"):
        assert tasks[task]["FID"]["value"] is None
        assert FID_WEIGHTS_FILENAME in tasks[task]["FID"]["missing"]
    assert tasks["reconstruct"]["FVD"]["value"] is not None
    assert tasks["reconstruct"]["L1"]["value"] is not None
    # no OpenFace here: AU-H is missing with the reason, never 0
    assert tasks["reenact"]["AU-H"]["value"] is None and "OpenFace" in tasks["reenact"]["AU-H"]["missing"]
    table1 = (out / "table1.md").read_text()
    assert FID_WEIGHTS_FILENAME in table1 and "OpenFace" in table1


def test_tables_hold_the_paper_rows_and_every_warning(report):
    out, _ = report
    table1 = (out / "table1.md").read_text()
    assert (
        "| HeadGAN (paper) | 11.32 | 21.46 | 0.112 | n/r | 36.1 | 254 | 0.807 | n/r | n/r | n/r "
        "| 58.0 | 0.688 | 1.35 | 0.326 | n/r | n/r |" in table1
    )
    assert "| Method | L1 ↓ | PSNR ↑ | LPIPS ↓ | SSIM ↑ | FID ↓ | FVD ↓ | CSIM ↑ | AKD ↓ | LSE-D ↓ | LSE-C ↑ | FID ↓" in table1
    row = next(line for line in table1.splitlines() if line.startswith("| **demo**"))
    l1 = json.loads((out / "metrics.json").read_text())["tasks"]["reconstruct"]["L1"]["value"]
    assert row.split(" | ")[1] == f"{l1:.2f}"
    # 9-frame test clips and 3 videos: FVD is computed, with both warnings next to it
    fvd_cell = row.split(" | ")[6]
    marker = fvd_cell.split("[")[1].rstrip("]")
    note = next(line for line in table1.splitlines() if line.startswith(f"{marker}. FVD"))
    assert "9-frame clips" in note and "fewer than the 400 features" in note
    table2 = (out / "table2.md").read_text()
    assert "| HeadGAN (paper) | 30.1 | 0.766 | 0.76 |" in table2 and "| **demo** |" in table2
    table3 = (out / "table3.md").read_text()
    assert "| HeadGAN w/o network F (paper) | 63.3 | 473 | 0.307 |" in table3
    assert "| **ablation** | — [" in table3 and "evaluate run ablation first" in table3


def test_protocol_says_what_the_scores_were_measured_on(report, metric_models):
    out, protocol = report
    assert json.loads((out / "protocol.json").read_text()) == json.loads(json.dumps(protocol))
    reconstruct = protocol["tasks"]["reconstruct"]
    assert (reconstruct["clips"], reconstruct["frames"], reconstruct["fvd_window_frames"]) == (3, 31, 9)
    assert protocol["tasks"]["reenact"]["pairs"] == 2 and protocol["tasks"]["frontalise"]["frames"] == 3
    assert protocol["resolution"] == ["64x64"]
    (video,) = reconstruct["video_formats"]
    assert (video["codec"], video["pix_fmt"], video["options"]["crf"], video["videos"]) == (
        "h264",
        "yuv420p",
        "18.0",
        3,
    )
    assert protocol["stores"]["crops"] == [{"schema": "headgan.crops/1"}]
    lpips = protocol["weights"]["lpips/v0.1/alex.pth"]
    assert lpips["sha256"] == "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0"
    assert "i3d/i3d-kinetics-400.ckpt" in protocol["weights"]
    assert {"torch", "numpy", "onnxruntime", "insightface", "headgan-pipeline"} <= set(protocol["versions"])
    assert protocol["seed"]["evaluate"] == 0


def test_same_inputs_give_the_same_files(apps_outputs, metric_models, report, tmp_path):
    first, _ = report
    second = tmp_path / "eval/demo"
    evaluate(apps_outputs, metric_models, second, EvaluateSettings(runs=["ablation"]))
    names = [*OUTPUTS, "reconstruct.csv", "reenact.csv", "frontalise.csv"]
    for name in names:
        assert (second / name).read_bytes() == (first / name).read_bytes(), name


def test_frontalised_frames_are_seeded():
    assert sampled_frames([10, 20, 30], 0) == sampled_frames([10, 20, 30], 0)
    assert sampled_frames([10, 20, 30], 0) != sampled_frames([10, 20, 30], 1)
    assert all(0 <= t < n for t, n in zip(sampled_frames([3, 1, 7], 5), [3, 1, 7]))


def test_unselected_metrics_are_reported_as_not_computed(apps_outputs, metric_models):
    settings = EvaluateSettings(metrics=["L1", "PSNR"])
    scores = score_reconstruction(
        apps_outputs.test_index, apps_outputs.task_dirs("reconstruct"), Networks(settings, metric_models)
    )
    assert scores.metrics["L1"].value is not None and scores.metrics["PSNR"].value is not None
    for name in ("SSIM", "LPIPS", "FID", "FVD", "CSIM"):
        assert "not in evaluate.metrics" in scores.metrics[name].missing


@pytest.mark.parametrize("shape", ["length", "size"])
def test_videos_of_another_length_or_size_are_a_clear_error(tmp_path, metric_models, shape):
    outputs = write_apps_outputs(tmp_path / "results")
    folder = outputs.task_dirs("reconstruct")[0]
    clip = split_clips(DatasetReader(outputs.test_index), folder.name)[0]
    frames = clip.frames[:-2] if shape == "length" else np.zeros((clip.n_frames, 32, 32, 3), np.uint8)
    write_mp4(folder / f"{clip.clip_id}.mp4", frames)
    with pytest.raises(FrameMismatch, match=rf"{re.escape(clip.clip_id)}.*different lengths or sizes"):
        score_reconstruction(
            outputs.test_index, outputs.task_dirs("reconstruct"), Networks(EvaluateSettings(), metric_models)
        )


def test_a_missing_video_names_the_file(tmp_path, metric_models):
    outputs = write_apps_outputs(tmp_path / "results")
    video = next(outputs.task_dirs("frontalise")[0].glob("*.mp4"))
    video.unlink()
    with pytest.raises(ValueError, match=re.escape(video.name)):
        score_frontalisation(
            outputs.test_index, outputs.task_dirs("frontalise"), Networks(EvaluateSettings(), metric_models)
        )


def test_bad_settings_are_refused():
    with pytest.raises(EvaluateConfigError, match="FOO"):
        EvaluateSettings.from_dict({"metrics": ["FOO"]})
    with pytest.raises(EvaluateConfigError, match="unknown key"):
        EvaluateSettings.from_dict({"lpips": {"backbone": "alex"}})


def test_table3_reads_the_other_runs(apps_outputs, metric_models, report, tmp_path):
    first, _ = report
    root = tmp_path / "eval"
    shutil.copytree(first, root / "ablation")
    evaluate(apps_outputs, metric_models, root / "demo", EvaluateSettings(metrics=["L1"], runs=["ablation"]))
    table3 = (root / "demo/table3.md").read_text()
    rows = {line.split(" | ")[0]: line.split(" | ") for line in table3.splitlines() if line.startswith("| **")}
    fvd = json.loads((first / "metrics.json").read_text())["tasks"]["reconstruct"]["FVD"]["value"]
    assert rows["| **ablation**"][2].split()[0] == f"{fvd:.0f}"
    assert rows["| **demo**"][2].startswith("— [")
    assert "FVD (reconstruct, demo): missing: not computed (not in evaluate.metrics)" in table3


def test_fid_from_a_loaded_network_carries_its_small_sample_warning(metric_models, monkeypatch):
    # the real weights never ship on PyPI: an untrained network in the same layout stands in
    monkeypatch.setattr("headgan_model.evaluate.networks.load_fid_inception", lambda path: FIDInception().eval())
    networks = Networks(EvaluateSettings(), metric_models)
    fid_set = FidSet(networks)
    frames = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    fid_set.add(frames[:2], frames[2:3])
    fid_set.add(frames[2:], frames[3:])
    fid = fid_set.result()
    assert fid.value is not None and fid.value >= 0 and fid.details == {"generated": 4.0, "real": 2.0}
    assert any("2 samples of 2048-dimensional features" in warning for warning in fid.warnings)
    one = FidSet(networks)
    one.add(frames[:1], frames[1:2])
    assert "at least 2 frames a side" in one.result().missing


def test_akd_and_lse_are_missing_with_the_file_named(report):
    out, protocol = report
    tasks = json.loads((out / "metrics.json").read_text())["tasks"]
    for task in ("reconstruct", "reenact"):
        for name in ("LSE-D", "LSE-C"):
            assert tasks[task][name]["value"] is None
            assert "syncnet_v2.model" in tasks[task][name]["missing"] and "download_model.sh" in tasks[task][name]["missing"]
    # no FaceMesh in the metrics' models folder: AKD is missing, naming it
    assert tasks["reconstruct"]["AKD"]["value"] is None and "face_landmark.tflite" in tasks["reconstruct"]["AKD"]["missing"]
    assert protocol["weights"]["syncnet/syncnet_v2.model"]["missing"] is True
    header = (out / "reconstruct.csv").read_text().splitlines()[0].split(",")
    assert header[-5:] == ["AKD", "akd_pairs", "LSE-D", "LSE-C", "lse_offset"]
    assert (out / "reenact.csv").read_text().splitlines()[0].split(",")[-3:] == ["LSE-D", "LSE-C", "lse_offset"]


def test_lse_of_each_video_with_its_clips_audio(apps_outputs, metric_models, monkeypatch, tmp_path):
    """A seeded untrained SyncNet stands in for syncnet_v2.model (no package ships it): each video's
    LSE is that of its decoded frames with the clip's (reconstruction) or the driving clip's
    (reenactment) audio, the task's value the mean over the videos."""
    from headgan_model.metrics.lip_sync import sync_score
    from headgan_model.metrics.syncnet import SyncNet

    torch.manual_seed(3)
    network = SyncNet().eval()
    weights = tmp_path / "syncnet_v2.model"
    weights.write_bytes(b"stand-in")
    monkeypatch.setattr("headgan_model.evaluate.networks.load_syncnet", lambda path: network)
    settings = EvaluateSettings.from_dict({"metrics": ["LSE-D", "LSE-C"], "syncnet": {"weights": str(weights)}})
    networks = Networks(settings, metric_models)
    scores = score_reconstruction(apps_outputs.test_index, apps_outputs.task_dirs("reconstruct"), networks)
    clips = {c.clip_id: c for c in split_clips(DatasetReader(apps_outputs.test_index))}
    expected = []
    for folder in apps_outputs.task_dirs("reconstruct"):
        for clip_id in sorted(p.stem for p in folder.glob("*.mp4")):
            frames = read_frames(folder / f"{clip_id}.mp4")
            expected.append(sync_score(frames, clips[clip_id].waveform[0], network))
    rows = {row["clip_id"]: row for row in scores.rows}
    assert sorted(rows) == sorted(clips)
    distances = sorted(row["LSE-D"] for row in rows.values())
    np.testing.assert_allclose(distances, sorted(s.distance for s in expected), rtol=1e-5)
    assert scores.metrics["LSE-D"].value == pytest.approx(np.mean(distances), rel=1e-9)
    assert scores.metrics["LSE-C"].value == pytest.approx(np.mean([r["LSE-C"] for r in rows.values()]), rel=1e-9)
    assert scores.metrics["LSE-D"].details["videos"] == 3.0 and scores.metrics["LSE-D"].warnings == ()
    assert "not in evaluate.metrics" in scores.metrics["AKD"].missing
    assert scores.files[str(weights)] == str(weights)
    reenact = score_reenactment(apps_outputs.test_index, apps_outputs.train_index, apps_outputs.run / "reenact/videos", networks)
    assert reenact.metrics["LSE-D"].details["videos"] == 2.0 and reenact.metrics["LSE-C"].value is not None
    first = reenact.rows[0]
    video = apps_outputs.run / f"reenact/videos/{first['driving']}__{first['source']}.mp4"
    direct = sync_score(read_frames(video), clips[first["driving"]].waveform[0], network)
    assert first["LSE-D"] == pytest.approx(direct.distance, rel=1e-5) and first["lse_offset"] == direct.offset


class RedPoints:
    """Stand-in landmark backend: all 68 points of a frame at (mean red value, 0), every frame a face."""

    ibug68 = np.arange(68)

    def locate(self, frames):
        x = frames[..., 0].reshape(len(frames), -1).mean(axis=1)
        points = np.zeros((len(frames), 68, 3), np.float32)
        points[..., 0] = x[:, None]
        return points, np.ones(len(frames), np.float32)


def test_akd_of_the_reconstructed_clips(apps_outputs, metric_models, monkeypatch):
    monkeypatch.setattr("headgan_model.evaluate.networks.make_landmarker", lambda cfg, models_dir: RedPoints())
    networks = Networks(EvaluateSettings(metrics=["AKD"]), metric_models)
    scores = score_reconstruction(apps_outputs.test_index, apps_outputs.task_dirs("reconstruct"), networks)
    distances = []
    for folder in apps_outputs.task_dirs("reconstruct"):
        for clip in split_clips(DatasetReader(apps_outputs.test_index), folder.name):
            generated = read_frames(folder / f"{clip.clip_id}.mp4")[..., 0].reshape(clip.n_frames, -1)
            real = clip.frames[..., 0].reshape(clip.n_frames, -1)
            distances.append(np.abs(generated.mean(axis=1, dtype=np.float32) - real.mean(axis=1, dtype=np.float32)))
    akd = scores.metrics["AKD"]
    assert akd.value == pytest.approx(np.concatenate(distances).mean(), rel=1e-5)
    assert akd.details["frames"] == 31.0 and all(row["akd_pairs"] == row["n_frames"] for row in scores.rows)
