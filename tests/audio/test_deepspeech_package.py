"""Backend ``deepspeech`` (Mozilla's package in a worker process) with a fake ``deepspeech`` module.

The package installs only on Python ≤ 3.9; the fake implements the part of its API that the worker
uses (``Model``, ``enableExternalScorer``, ``sampleRate``, ``sttWithMetadata`` → ``transcripts[0]
.tokens`` with ``text``, ``timestep``, ``start_time``) and records what it was given in a JSON
lines file. In-process tests put it into ``sys.modules``; the worker process finds it through
``PYTHONPATH``.
"""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from headgan_prep.audio import deepspeech_worker
from headgan_prep.audio.shard import AudioConfig, AudioConfigError, DeepSpeechConfig, open_deepspeech
from headgan_prep.audio.deepspeech import N_CLASSES, Token, deepspeech_features, token_classes, windowed
from headgan_prep.audio.deepspeech_package import (
    DeepSpeechPackageMissing,
    DeepSpeechPackageModel,
    to_int16,
)

TOKENS = [("h", 3), ("i", 9), (" ", 20), ("y", 31), ("o", 40)]
FAKE = f"""
import json, os, types

TOKENS = {TOKENS!r}


def _log(**record):
    with open(os.environ["FAKE_DEEPSPEECH_LOG"], "a") as log:
        log.write(json.dumps(record) + "\\n")


class Model:
    def __init__(self, path):
        _log(call="Model", path=path)

    def enableExternalScorer(self, path):
        _log(call="enableExternalScorer", path=path)

    def sampleRate(self):
        return 16000

    def sttWithMetadata(self, audio, num_results):
        _log(call="sttWithMetadata", dtype=str(audio.dtype), samples=audio.tolist(), num_results=num_results)
        tokens = [types.SimpleNamespace(text=t, timestep=s, start_time=0.02 * s) for t, s in TOKENS]
        return types.SimpleNamespace(transcripts=[types.SimpleNamespace(tokens=tokens, confidence=-1.0)])
"""


@pytest.fixture
def fake_log(tmp_path, monkeypatch) -> Path:
    """A fake ``deepspeech`` module on ``PYTHONPATH`` and in ``sys.modules``; the path of its log."""
    folder = tmp_path / "fake"
    folder.mkdir()
    (folder / "deepspeech.py").write_text(FAKE)
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("PYTHONPATH", str(folder))
    monkeypatch.setenv("FAKE_DEEPSPEECH_LOG", str(log))
    spec = importlib.util.spec_from_file_location("deepspeech", folder / "deepspeech.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(sys.modules, "deepspeech", module)
    return log


def calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.fixture
def audio() -> np.ndarray:
    return np.concatenate([[0.0, 0.5, -0.5, 1.0, -1.0, 1e-5], 0.1 * np.sin(np.arange(16000) / 7)]).astype(np.float32)


def test_int16_conversion():
    samples = to_int16(np.array([0.0, 0.5, -0.5, 1.0, -1.0, 2.0, 1.5e-5], np.float32))
    assert samples.dtype == np.int16
    assert samples.tolist() == [0, 16384, -16384, 32767, -32768, 32767, 0]


def test_worker_calls_the_package_api(fake_log):
    model = deepspeech_worker.load_model("m.pbmm", "m.scorer")
    assert deepspeech_worker.transcribe(model, np.zeros(4, np.int16)) == [list(t) for t in TOKENS]
    assert [(c["call"], c.get("path")) for c in calls(fake_log)] == [
        ("Model", "m.pbmm"),
        ("enableExternalScorer", "m.scorer"),
        ("sttWithMetadata", None),
    ]
    deepspeech_worker.load_model("m.pbmm")
    assert [c["call"] for c in calls(fake_log)][3:] == ["Model"]  # no scorer


def test_package_model_gives_tokens_and_features_of_the_litert_path(fake_log, tmp_path, audio):
    with DeepSpeechPackageModel(tmp_path / "m.pbmm", tmp_path / "m.scorer", python=sys.executable) as model:
        tokens = model.tokens(audio)
        features, transcript = deepspeech_features(model, audio, n_frames=30, fps=25.0, mode="tokens")
    assert tokens == [Token(text, step) for text, step in TOKENS]
    assert transcript == "hi yo"
    log = calls(fake_log)
    assert log[0] == {"call": "Model", "path": str(tmp_path / "m.pbmm")}
    assert log[1] == {"call": "enableExternalScorer", "path": str(tmp_path / "m.scorer")}
    assert log[2]["dtype"] == "int16" and log[2]["num_results"] == 1
    assert log[2]["samples"] == to_int16(audio).tolist()
    assert log[2]["samples"][:6] == [0, 16384, -16384, 32767, -32768, 0]
    one_hot = np.eye(N_CLASSES)[token_classes(tokens, 30, 25.0, len(audio) / 16000)]
    np.testing.assert_array_equal(features, windowed(one_hot).astype(np.float32))


def test_missing_package_is_explained(tmp_path):
    with pytest.raises(DeepSpeechPackageMissing, match="installs only on Python ≤ 3.9: use envs/deepspeech.yaml"):
        DeepSpeechPackageModel(tmp_path / "m.pbmm", python=sys.executable)
    with pytest.raises(DeepSpeechPackageMissing, match="no Python interpreter 'no-such-python'"):
        DeepSpeechPackageModel(tmp_path / "m.pbmm", python="no-such-python")


def test_open_deepspeech_resolves_model_and_scorer(fake_log, tmp_path):
    (tmp_path / "deepspeech").mkdir()
    for name in ("m.pbmm", "m.scorer"):
        (tmp_path / "deepspeech" / name).write_bytes(b"x")
    settings = DeepSpeechConfig(
        mode="tokens", model="deepspeech/m.pbmm", backend="deepspeech", scorer="deepspeech/m.scorer"
    )
    with open_deepspeech(settings, tmp_path, sys.executable) as model:
        assert isinstance(model, DeepSpeechPackageModel)
    paths = [c["path"] for c in calls(fake_log)]
    assert paths == [str(tmp_path / "deepspeech/m.pbmm"), str(tmp_path / "deepspeech/m.scorer")]


def test_logits_with_the_deepspeech_backend_is_refused():
    with pytest.raises(AudioConfigError, match="mode logits needs backend litert"):
        AudioConfig.from_dict({"deepspeech": {"mode": "logits", "backend": "deepspeech"}})
    with pytest.raises(AudioConfigError, match="backend must be one of"):
        AudioConfig.from_dict({"deepspeech": {"backend": "tensorflow"}})
    with pytest.raises(AudioConfigError, match="scorer is used only by backend deepspeech"):
        AudioConfig.from_dict({"deepspeech": {"mode": "tokens", "scorer": "deepspeech/m.scorer"}})
    cfg = AudioConfig.from_dict({"deepspeech": {"mode": "tokens", "backend": "deepspeech"}})
    assert cfg.deepspeech.backend == "deepspeech" and cfg.deepspeech.scorer is None
