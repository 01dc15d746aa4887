"""DeepSpeech 0.9.3 through Mozilla's ``deepspeech`` package, as HeadGAN's code ran it (backend
``deepspeech`` of ``audio.deepspeech``; mode ``tokens`` only).

``deepspeech.Model(model)`` (the release's ``.pbmm`` file), optionally with
``enableExternalScorer(scorer)``, transcribes a clip's int16 samples with ``sttWithMetadata``; the
tokens of the best transcript, each a character and the 20 ms step at which it starts, become the
same :class:`headgan_prep.audio.deepspeech.Token` list the ``litert`` backend's greedy decoder gives, and
go through the same token → frame → one-hot code. The package does not expose per-step
probabilities, so mode ``logits`` needs the ``litert`` backend.

The package installs only on Python ≤ 3.9 and the pipeline needs Python ≥ 3.11: the package runs
in a worker process (:mod:`headgan_prep.audio.deepspeech_worker`) under a Python 3.9 interpreter, that of
``envs/deepspeech.yaml`` (the workflow builds it with ``--sdm conda``).
"""

from __future__ import annotations

import json
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from headgan_prep.audio import deepspeech_worker
from headgan_prep.audio.deepspeech import SAMPLE_RATE, Token

DEFAULT_PYTHON = "python3.9"
MISSING_PACKAGE = (
    "the deepspeech package installs only on Python ≤ 3.9: use envs/deepspeech.yaml with `--sdm conda`, "
    "or backend litert"
)


class DeepSpeechPackageMissing(ImportError):
    """The interpreter given for the ``deepspeech`` backend does not exist or lacks the package."""


class DeepSpeechWorkerError(RuntimeError):
    """The worker process failed (model file not loadable, crash)."""


def to_int16(audio: np.ndarray) -> np.ndarray:
    """``(N,)`` float samples in [-1, 1] → int16 (× 32768, rounded, clipped), as DeepSpeech takes them."""
    return np.clip(np.rint(np.asarray(audio, dtype=np.float64) * 32768), -32768, 32767).astype(np.int16)


class DeepSpeechPackageModel:
    """A ``deepspeech.Model`` in a worker process; close it (or use it as a context manager).

    Parameters
    ----------
    path : Path
        The model file (``.pbmm``).
    scorer : Path or None
        External scorer (``.scorer``) for the decoder, or None.
    python : str
        Python ≤ 3.9 interpreter with the ``deepspeech`` package.

    Raises
    ------
    DeepSpeechPackageMissing
        ``python`` does not exist or cannot import ``deepspeech``.
    DeepSpeechWorkerError
        The model does not load, or does not take 16 kHz audio.
    """

    def __init__(self, path: Path, scorer: Path | None = None, python: str = DEFAULT_PYTHON):
        self.path = Path(path)
        self._stderr = tempfile.TemporaryFile()
        command = [python, deepspeech_worker.__file__, str(path)] + ([str(scorer)] if scorer else [])
        try:
            self._process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr
            )
        except FileNotFoundError:
            self._stderr.close()
            raise DeepSpeechPackageMissing(f"no Python interpreter {python!r}; {MISSING_PACKAGE}") from None
        sample_rate = json.loads(self._reply())["sample_rate"]
        if sample_rate != SAMPLE_RATE:
            self.close()
            raise DeepSpeechWorkerError(f"{path} takes {sample_rate} Hz audio, not {SAMPLE_RATE} Hz")

    def _reply(self) -> bytes:
        """The worker's next line; the worker's error when it has exited instead."""
        line = self._process.stdout.readline()
        if line:
            return line
        status = self._process.wait()
        self._stderr.seek(0)
        detail = self._stderr.read().decode(errors="replace").strip()
        self.close()
        if status == deepspeech_worker.MISSING_PACKAGE:
            raise DeepSpeechPackageMissing(f"{detail}; {MISSING_PACKAGE}")
        raise DeepSpeechWorkerError(f"deepspeech worker for {self.path} exited with status {status}: {detail}")

    def tokens(self, audio: np.ndarray) -> list[Token]:
        """Characters of the best transcript of ``(N,)`` samples in [-1, 1] at 16 kHz, with their
        start steps (20 ms)."""
        samples = to_int16(audio)
        self._process.stdin.write(struct.pack("<q", len(samples)) + samples.astype("<i2").tobytes())
        self._process.stdin.flush()
        return [Token(text, int(step)) for text, step in json.loads(self._reply())]

    def close(self) -> None:
        """End the worker."""
        if self._process.poll() is None:
            self._process.stdin.close()
            self._process.wait()
        self._process.stdout.close()
        self._stderr.close()

    def __enter__(self) -> DeepSpeechPackageModel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
