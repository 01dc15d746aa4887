"""Reconstruction: videos of every clip of a shard, their frame rate, audio track and side-by-side layout."""

import hashlib

import numpy as np
import pytest

from headgan_model.apps.clips import split_clips
from headgan_model.apps.reconstruct import reconstruct_shard
from headgan_model.apps.settings import AppsSettings
from headgan_model.apps.tables import read_tsv
from headgan_model.apps.video import read_mp4
from headgan_prep.dataset.reader import DatasetReader

pytestmark = pytest.mark.usefixtures("single_torch_thread")

LOSSLESS = {"device": "cpu", "video": {"crf": 0}}
"""Settings whose H.264 is lossless in luma: decoded frames stay near the encoded ones."""


def luma(frames: np.ndarray) -> np.ndarray:
    return np.asarray(frames, float) @ [0.299, 0.587, 0.114]


def test_every_clip_of_the_shard_is_written_with_its_audio(apps_results, tmp_path):
    out = tmp_path / "test-0000"
    rows = reconstruct_shard(apps_results.test_index, "test-0000", apps_results.generator, out, AppsSettings.from_dict(LOSSLESS), tmp_path / "p.png")
    clips = split_clips(DatasetReader(apps_results.test_index), "test-0000")
    assert [r["clip_id"] for r in read_tsv(out / "clips.tsv")] == [c.clip_id for c in clips] == ["id3+c+1", "id4+d+1"]
    assert sorted(p.name for p in out.iterdir()) == sorted(["clips.tsv"] + [f"{c.clip_id}{s}.mp4" for c in clips for s in ("", ".side")])
    for clip, row in zip(clips, rows):
        assert row["reference"] == clip.n_frames // 2
        frames, audio, info = read_mp4(out / f"{clip.clip_id}.mp4")
        assert frames.shape == (clip.n_frames, 32, 32, 3)
        assert info["fps"] == 25 and info["codec"] == "h264" and info["audio_codec"] == "aac"
        # the track lasts the clip (T / 25 s at 16 kHz), up to the last AAC frame of 1024 samples
        assert 0 <= len(audio) - clip.n_frames * 640 < 1024
        side, side_audio, _ = read_mp4(out / f"{clip.clip_id}.side.mp4")
        assert side.shape == (clip.n_frames, 32, 4 * 32, 3) and len(side_audio) == len(audio)
        # reference | real | NMFC | generated, compared in luma (yuv420p halves the colour resolution)
        reference = clip.frames[clip.n_frames // 2]
        for k, expected in enumerate([np.broadcast_to(reference, clip.frames.shape), clip.frames, clip.nmfc, frames]):
            error = np.abs(luma(side[:, :, 32 * k : 32 * (k + 1)]) - luma(expected)).mean()
            assert error < 3, (k, error)
    assert (tmp_path / "p.png").is_file()


def test_the_reference_is_configurable_and_outputs_are_deterministic(apps_results, tmp_path):
    settings = AppsSettings.from_dict({**LOSSLESS, "reconstruct": {"reference": 2}})
    first = reconstruct_shard(apps_results.test_index, "test-0001", apps_results.generator, tmp_path / "a", settings)
    reconstruct_shard(apps_results.test_index, "test-0001", apps_results.generator, tmp_path / "b", settings)
    assert [r["reference"] for r in first] == [2]
    for name in ("id5+e+1.mp4", "id5+e+1.side.mp4", "clips.tsv"):
        digest = [hashlib.sha256((tmp_path / d / name).read_bytes()).hexdigest() for d in "ab"]
        assert digest[0] == digest[1], name
