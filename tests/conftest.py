"""Shared fixtures.

Real model files are looked up in ``$HEADGAN_MODELS_DIR`` (default: ``models/`` at the repository
root, filled by ``headgan-prep fetch-models``). Tests that need one skip when it is missing, unless
``HEADGAN_REQUIRE_MODELS=1`` (set by CI), where a missing file fails the test. The real face
videos (``headgan-prep fetch-samples``) are looked up likewise in ``$HEADGAN_SAMPLES_DIR`` (default:
``samples/`` at the repository root), under the same rule.
"""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return Path(os.environ.get("HEADGAN_MODELS_DIR", REPO_ROOT / "models"))


def file_requirer(folder: Path, kind: str, command: str):
    """A function mapping a path relative to ``folder`` to an existing file: a missing one skips the
    test, or fails it under ``HEADGAN_REQUIRE_MODELS=1``, naming ``command`` that gets it."""

    def _require(relative: str) -> Path:
        path = folder / relative
        if not path.is_file():
            message = f"{kind} {path} missing: run `{command}`"
            if os.environ.get("HEADGAN_REQUIRE_MODELS") == "1":
                pytest.fail(message)
            pytest.skip(message)
        return path

    return _require


@pytest.fixture(scope="session")
def require_model(models_dir):
    """Return a function mapping a path relative to the models dir to an existing file."""
    return file_requirer(models_dir, "model file", "headgan-prep fetch-models")


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return Path(os.environ.get("HEADGAN_SAMPLES_DIR", REPO_ROOT / "samples"))


@pytest.fixture(scope="session")
def require_sample(samples_dir):
    """Return a function mapping a path relative to the samples dir to an existing file."""
    return file_requirer(samples_dir, "sample file", "headgan-prep fetch-samples")


@pytest.fixture
def single_torch_thread():
    """One intra-op torch thread for the test: small tensors gain nothing from more, and lose much
    on a busy machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
