"""Write ``mfcc_reference.npz``: ``python_speech_features.mfcc`` of a fixed 16 kHz signal.

SyncNet's and Wav2Lip's LSE code call ``python_speech_features.mfcc(audio, 16000)`` (version 0.6,
MIT, pure Python on numpy and scipy). The pipeline computes the same numbers itself
(:mod:`headgan_model.metrics.mfcc`); this script records the package's own output once, without
installing it::

    pip download --no-deps python_speech_features==0.6 -d /tmp/psf
    tar xzf /tmp/psf/python_speech_features-0.6.tar.gz -C /tmp/psf
    PYTHONPATH=/tmp/psf/python_speech_features-0.6 python tests/metrics/data/make_mfcc_reference.py

The file holds ``signal`` (N,) int16 (0.52 s: a 440 Hz tone, a 300 → 3000 Hz chirp, seeded noise,
50 ms of silence and a final partial frame) and ``mfcc`` (F, 13) float64.
"""

from pathlib import Path

import numpy as np

SEED = 5
SAMPLE_RATE = 16000
N_SAMPLES = 8330


def reference_signal() -> np.ndarray:
    """(N,) int16 samples (module docstring)."""
    t = np.arange(N_SAMPLES) / SAMPLE_RATE
    chirp = np.sin(2 * np.pi * (300 * t + (3000 - 300) / (2 * t[-1]) * t**2))
    noise = np.random.default_rng(SEED).normal(scale=0.05, size=N_SAMPLES)
    signal = 0.4 * np.sin(2 * np.pi * 440 * t) + 0.3 * chirp + noise
    signal[3000:3800] = 0.0
    return np.round(signal * 12000).astype(np.int16)


def main() -> None:
    import python_speech_features

    signal = reference_signal()
    features = python_speech_features.mfcc(signal, SAMPLE_RATE)
    out = Path(__file__).with_name("mfcc_reference.npz")
    np.savez_compressed(out, signal=signal, mfcc=np.asarray(features, np.float64))
    print(f"wrote {out}: mfcc {features.shape}")


if __name__ == "__main__":
    main()
