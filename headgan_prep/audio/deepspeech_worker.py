"""Mozilla's ``deepspeech`` package (0.9.3) as a worker process of :mod:`headgan_prep.audio.deepspeech_package`.

The package has wheels only for Python ≤ 3.9, the pipeline needs Python ≥ 3.11, so this file runs
as a standalone script under the interpreter of ``envs/deepspeech.yaml`` and imports only the
standard library, numpy and ``deepspeech``::

    python deepspeech_worker.py MODEL [SCORER]

It loads ``deepspeech.Model(MODEL)`` (with ``enableExternalScorer(SCORER)``) and writes one JSON
line ``{"sample_rate": …}``. Then, per clip: the sample count (8 bytes, little-endian) and the
int16 samples on stdin → one JSON line ``[[text, timestep], …]`` on stdout, the tokens of
``sttWithMetadata(samples, 1).transcripts[0]`` (timesteps of 20 ms). Without the package it exits
with status :data:`MISSING_PACKAGE` and a message on stderr.
"""

import json
import struct
import sys

MISSING_PACKAGE = 3
"""Exit status when ``deepspeech`` cannot be imported."""


def load_model(model_path, scorer_path=None):
    """``deepspeech.Model`` of a ``.pbmm`` (or, with the ``deepspeech-tflite`` build, ``.tflite``)
    file, with the external scorer when given."""
    import deepspeech

    model = deepspeech.Model(model_path)
    if scorer_path:
        model.enableExternalScorer(scorer_path)
    return model


def transcribe(model, samples):
    """``[[text, timestep], …]`` of the best transcript of int16 samples."""
    transcripts = model.sttWithMetadata(samples, 1).transcripts
    return [[token.text, int(token.timestep)] for token in transcripts[0].tokens] if transcripts else []


def serve(model, stdin, stdout):
    """Answer clips from binary ``stdin`` on text ``stdout`` until ``stdin`` ends."""
    import numpy as np

    while True:
        header = stdin.read(8)
        if len(header) < 8:
            return
        (n_samples,) = struct.unpack("<q", header)
        samples = np.frombuffer(stdin.read(2 * n_samples), dtype="<i2").astype(np.int16)
        stdout.write(json.dumps(transcribe(model, samples)) + "\n")
        stdout.flush()


def main(argv):
    """Entry point: ``argv`` is ``[MODEL]`` or ``[MODEL, SCORER]``."""
    try:
        model = load_model(*argv)
    except ImportError as error:
        sys.stderr.write(f"cannot import deepspeech under Python {sys.version.split()[0]}: {error}\n")
        return MISSING_PACKAGE
    sys.stdout.write(json.dumps({"sample_rate": int(model.sampleRate())}) + "\n")
    sys.stdout.flush()
    serve(model, sys.stdin.buffer, sys.stdout)
    return 0


if __name__ == "__main__":
    del sys.path[0]  # this script's folder, whose deepspeech.py would shadow the package
    sys.exit(main(sys.argv[1:]))
