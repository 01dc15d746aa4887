"""The audio stage on hand-made crop stores: store schema, flags, rejections, determinism, CLI.

The DeepSpeech modes run ``tests/audio/data/deepspeech_tiny.tflite``, a tiny model with the release
model's interface (see ``tests/audio/test_deepspeech.py``), installed under the release file's name.
"""

import shutil
from pathlib import Path

import numpy as np
import pytest
import zarr

from headgan_prep.audio import shard as audio_module
from headgan_prep.audio.shard import (
    DEEPSPEECH_MODEL,
    N_FEATURES,
    N_LOWLEVEL,
    AudioConfig,
    AudioConfigError,
    DeepSpeechConfig,
    audio_shard,
    rms_db,
)
from headgan_prep.audio.lowlevel import lowlevel_features
from headgan_prep.cli import main
from headgan_prep.audio.deepspeech import DeepSpeechModel, deepspeech_features
from headgan_prep.demo.generate import AUDIO_RATE, SOURCES, speech
from headgan_prep.models.registry import ModelFileMissing
from headgan_prep.store.rejections import read_rejections

FPS = 25.0
TINY = Path(__file__).parent / "data/deepspeech_tiny.tflite"
LOWLEVEL_ONLY = AudioConfig(deepspeech=DeepSpeechConfig(mode="none"))
TOKENS = AudioConfig(deepspeech=DeepSpeechConfig(mode="tokens"))


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """A models folder with the tiny DeepSpeech model as the release file."""
    folder = tmp_path_factory.mktemp("models")
    (folder / DEEPSPEECH_MODEL).parent.mkdir(parents=True)
    shutil.copy(TINY, folder / DEEPSPEECH_MODEL)
    return folder


def write_crops(path: Path, clips: dict[str, np.ndarray | None], n_frames: int = 40) -> Path:
    """A crop store with the attributes and ``audio`` arrays the audio stage reads (no frames)."""
    root = zarr.open_group(store=str(path), mode="w", zarr_format=3)
    root.attrs["shard"] = path.stem
    for clip_id, audio in clips.items():
        group = root.create_group(
            clip_id,
            attributes={
                "clip_id": clip_id,
                "source_path": f"/data/{clip_id}.mp4",
                "n_frames": n_frames,
                "fps": FPS,
                "sample_rate": AUDIO_RATE,
                "has_audio": audio is not None,
            },
        )
        samples = np.zeros(0, np.float32) if audio is None else audio.astype(np.float32)
        array = group.create_array("audio", shape=samples.shape, dtype=np.float32, chunks=(max(1, samples.size),))
        if samples.size:
            array[...] = samples
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, np.ndarray | None]:
    n = 40 * AUDIO_RATE // 25
    spoken = speech(SOURCES[1].voice, "Our team won the match.", n, tmp_path_factory.mktemp("speech"))
    rng = np.random.default_rng(0)
    return {
        "speech": spoken / 32768,
        "speech-short-track": spoken[: n // 2] / 32768,  # audio ends half-way through the video
        "silent": np.zeros(n),
        "quiet": 10 ** (-70 / 20) * rng.standard_normal(n),
        "blip": rng.standard_normal(100),  # shorter than one 20 ms window
        "no-audio": None,
    }


@pytest.fixture(scope="module")
def crops(tmp_path_factory, clips) -> Path:
    return write_crops(tmp_path_factory.mktemp("crops") / "train-0000.zarr", clips)


def test_store_schema_and_flags(tmp_path, crops, clips, models):
    out, rejected = tmp_path / "audio/train-0000.zarr", tmp_path / "rejected.tsv"
    stats = audio_shard(crops, out, rejected, TOKENS, models)
    assert (stats.n_clips, stats.n_kept, stats.n_rejected, stats.n_silent, stats.n_without_audio) == (6, 6, 0, 3, 1)
    assert read_rejections(rejected) == []

    root = zarr.open_group(store=str(out), mode="r")
    assert root.attrs["schema"] == audio_module.SCHEMA
    assert root.attrs["shard"] == "train-0000" and root.attrs["n_clips"] == 6
    assert root.attrs["config"] == TOKENS.to_dict()
    layout = root.attrs["layout"]
    assert layout["lowlevel"] == [0, 84] and layout["deepspeech"] == [84, 300]
    assert len(layout["lowlevel_names"]) == 84 and len(layout["deepspeech_classes"]) == 27
    assert layout["deepspeech_window"] * len(layout["deepspeech_classes"]) == 216

    flags = {name: (g.attrs["has_audio"], g.attrs["silent"]) for name, g in root.groups()}
    assert flags == {
        "speech": (True, False),
        "speech-short-track": (True, False),
        "silent": (True, True),
        "quiet": (True, True),
        "blip": (True, True),
        "no-audio": (False, False),
    }
    for name, group in root.groups():
        features = group["features"][...]
        assert features.shape == (40, N_FEATURES) and features.dtype == np.float32
        assert group.attrs["n_frames"] == 40 and group.attrs["deepspeech_mode"] == "tokens"
        if flags[name] != (True, False):  # silent or no audio track: all zero
            assert not features.any() and group.attrs["transcript"] == ""
        else:  # one-hot characters: each of the 8 blocks of 27 holds one 1
            np.testing.assert_array_equal(features[:, N_LOWLEVEL:].reshape(40, 8, 27).sum(axis=2), 1)
    speech_audio = clips["speech"].astype(np.float32)
    expected = lowlevel_features(speech_audio, AUDIO_RATE, FPS, 40).astype(np.float32)
    np.testing.assert_array_equal(root["speech"]["features"][:, :N_LOWLEVEL], expected)
    characters, transcript = deepspeech_features(DeepSpeechModel(TINY), speech_audio, 40, FPS, "tokens")
    np.testing.assert_array_equal(root["speech"]["features"][:, N_LOWLEVEL:], characters)
    assert root["speech"].attrs["transcript"] == transcript
    short = root["speech-short-track"]["features"][...]
    np.testing.assert_array_equal(short[20:], np.repeat(short[19:20], 20, axis=0))  # last row repeated
    assert root["silent"].attrs["rms_db"] is None
    assert root["quiet"].attrs["rms_db"] == pytest.approx(-70, abs=0.5)


def test_modes_logits_and_none(tmp_path, crops, models):
    for mode in ("logits", "none"):
        cfg = AudioConfig(deepspeech=DeepSpeechConfig(mode=mode))
        audio_shard(crops, tmp_path / f"{mode}.zarr", tmp_path / "r.tsv", cfg, models)
    logits = zarr.open_group(store=str(tmp_path / "logits.zarr"), mode="r")["speech"]["features"][...]
    low_only = zarr.open_group(store=str(tmp_path / "none.zarr"), mode="r")["speech"]
    np.testing.assert_array_equal(logits[:, :N_LOWLEVEL], low_only["features"][:, :N_LOWLEVEL])
    np.testing.assert_allclose(logits[:, N_LOWLEVEL:].reshape(40, 8, 27).sum(axis=2), 1, rtol=1e-5)
    assert not low_only["features"][:, N_LOWLEVEL:].any() and low_only.attrs["transcript"] == ""


def test_missing_model_names_the_file(tmp_path, crops):
    with pytest.raises(ModelFileMissing, match="deepspeech-0.9.3-models.tflite.*github.com/mozilla/DeepSpeech"):
        audio_shard(crops, tmp_path / "a.zarr", tmp_path / "r.tsv", AudioConfig(), tmp_path / "models")
    assert not (tmp_path / "a.zarr").exists()


def test_deepspeech_needs_16_khz(tmp_path, clips, models):
    store = write_crops(tmp_path / "train-0002.zarr", {"speech": clips["speech"]})
    zarr.open_group(store=str(store), mode="a")["speech"].attrs["sample_rate"] = 8000
    with pytest.raises(AudioConfigError, match="16000 Hz"):
        audio_shard(store, tmp_path / "a.zarr", tmp_path / "r.tsv", AudioConfig(), models)
    audio_shard(store, tmp_path / "a.zarr", tmp_path / "r.tsv", LOWLEVEL_ONLY, models)


def test_rejections_by_config(tmp_path, crops):
    cfg = AudioConfig(require_audio=True, reject_silent=True, deepspeech=DeepSpeechConfig(mode="none"))
    stats = audio_shard(crops, tmp_path / "a.zarr", tmp_path / "rejected.tsv", cfg, tmp_path)
    rows = read_rejections(tmp_path / "rejected.tsv")
    assert {r.clip_id: r.reason for r in rows} == {
        "silent": "silent",
        "quiet": "silent",
        "blip": "silent",
        "no-audio": "no_audio",
    }
    assert all(r.stage == "audio" and r.path == f"/data/{r.clip_id}.mp4" for r in rows)
    assert stats.n_kept == 2 and sorted(zarr.open_group(store=str(tmp_path / "a.zarr"), mode="r").group_keys()) == [
        "speech",
        "speech-short-track",
    ]


def test_silence_threshold(tmp_path, crops):
    cfg = AudioConfig(silence_db=-80.0, deepspeech=DeepSpeechConfig(mode="none"))
    audio_shard(crops, tmp_path / "a.zarr", tmp_path / "r.tsv", cfg, tmp_path)
    assert zarr.open_group(store=str(tmp_path / "a.zarr"), mode="r")["quiet"].attrs["silent"] is False
    assert rms_db(np.full(10, 0.5, np.float32)) == pytest.approx(20 * np.log10(0.5))


def test_same_input_same_bytes(tmp_path, crops, models):
    for name in ("a", "b"):
        audio_shard(crops, tmp_path / name / "train-0000.zarr", tmp_path / name / "r.tsv", AudioConfig(), models)
    files = {
        name: {
            p.relative_to(tmp_path / name): p.read_bytes() for p in sorted((tmp_path / name).rglob("*")) if p.is_file()
        }
        for name in ("a", "b")
    }
    assert len(files["a"]) > 6 and files["a"] == files["b"]


def test_broken_clip_is_rejected_and_the_shard_goes_on(tmp_path, clips):
    store = write_crops(tmp_path / "train-0001.zarr", {"speech": clips["speech"], "broken": clips["speech"]})
    del zarr.open_group(store=str(store), mode="a")["broken"]["audio"]
    audio_shard(store, tmp_path / "a.zarr", tmp_path / "r.tsv", LOWLEVEL_ONLY, tmp_path)
    rows = read_rejections(tmp_path / "r.tsv")
    assert [(r.clip_id, r.reason) for r in rows] == [("broken", "error")]
    assert list(zarr.open_group(store=str(tmp_path / "a.zarr"), mode="r").group_keys()) == ["speech"]


@pytest.mark.parametrize(
    "values, message",
    [
        ({"unknown": 1}, "unknown"),
        ({"deepspeech": {"mode": "phonemes"}}, "phonemes"),
        ({"deepspeech": {"extra": 1}}, "extra"),
        ({"silence_db": 3.0}, "silence_db"),
        ({"deepspeech": {"threads": 0}}, "threads"),
    ],
)
def test_bad_config(values, message):
    with pytest.raises(AudioConfigError, match=message):
        AudioConfig.from_dict(values)


def test_config_round_trip():
    cfg = AudioConfig.from_dict({"reject_silent": True, "deepspeech": {"mode": "logits"}})
    assert AudioConfig.from_dict(cfg.to_dict()) == cfg


def test_cli(tmp_path, crops, models, capsys):
    out = tmp_path / "train-0000.zarr"
    code = main(
        [
            "-q",
            "audio",
            "--crops",
            str(crops),
            "--out",
            str(out),
            "--rejected",
            str(tmp_path / "r.tsv"),
            "--models-dir",
            str(models),
            "--settings",
            '{"require_audio": true}',
        ]
    )
    assert code == 0 and "n_kept=5" in capsys.readouterr().out
    assert [r.reason for r in read_rejections(tmp_path / "r.tsv")] == ["no_audio"]
