"""MFCCs of speech as SyncNet's audio stream reads them (``python_speech_features.mfcc`` defaults).

SyncNet (Chung & Zisserman 2016, ``joonson/syncnet_python``) and the LSE-C / LSE-D protocol of
Wav2Lip call ``python_speech_features.mfcc(audio, 16000)`` on the 16-bit samples of a 16 kHz mono
track. That computation, with its defaults, is:

1. pre-emphasis ``y[0] = x[0]``, ``y[n] = x[n] − 0.97·x[n−1]``;
2. frames of 0.025 s (400 samples) every 0.01 s (160 samples: 100 MFCC frames per second), the
   last one zero-padded, ``1 + ceil((N − 400) / 160)`` frames (one when ``N ≤ 400``); rectangular
   window;
3. power spectrum ``|rfft(frame, 512)|² / 512`` (257 bins);
4. 26 triangular mel filters from 0 Hz to 8 kHz (mel = 2595·log10(1 + f/700)), their edges at the
   FFT bins ``floor(513 · f / 16000)`` of 28 points equally spaced in mel;
5. the log of the filter energies (an exact zero replaced by the float64 ε), DCT-II with
   orthonormal scaling, the first 13 coefficients;
6. cepstral lifter ``1 + 11·sin(π n / 22)`` (L = 22);
7. coefficient 0 replaced by the log of the frame's total power spectrum energy (ε for zero).

The samples' scale matters (it shifts coefficient 0): give them in 16-bit units, as
:func:`int16_scale` makes them from floats in [-1, 1].
"""

from __future__ import annotations

import math

import numpy as np
from scipy.fft import dct

SAMPLE_RATE = 16000
WINDOW_SECONDS = 0.025
STEP_SECONDS = 0.01
N_FFT = 512
N_FILTERS = 26
N_CEPSTRA = 13
PRE_EMPHASIS = 0.97
LIFTER = 22


def int16_scale(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] as the 16-bit integers a PCM file holds, as float64
    (``round(x · 32768)`` clipped to [-32768, 32767])."""
    return np.clip(np.round(np.asarray(samples, np.float64) * 32768.0), -32768, 32767)


def hz_to_mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz, np.float64) / 700.0)


def mel_to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel, np.float64) / 2595.0) - 1.0)


def mel_filterbank(
    n_filters: int = N_FILTERS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE, low_hz: float = 0.0, high_hz=None
) -> np.ndarray:
    """Triangular mel filters (step 4 of the module docstring).

    Returns
    -------
    np.ndarray
        ``(n_filters, n_fft // 2 + 1)`` float64 weights: filter j rises from 0 at its bin ``b[j]``
        to 1 at ``b[j+1]`` and falls back to 0 at ``b[j+2]`` (the top bin itself left out).
    """
    high_hz = sample_rate / 2 if high_hz is None else high_hz
    mels = np.linspace(hz_to_mel(low_hz), hz_to_mel(high_hz), n_filters + 2)
    edges = np.floor((n_fft + 1) * mel_to_hz(mels) / sample_rate)
    bank = np.zeros((n_filters, n_fft // 2 + 1))
    bins = np.arange(n_fft // 2 + 1)
    for j in range(n_filters):
        left, centre, right = edges[j : j + 3]
        rising = (bins >= left) & (bins < centre)
        falling = (bins >= centre) & (bins < right)
        bank[j, rising] = (bins[rising] - left) / (centre - left)
        bank[j, falling] = (right - bins[falling]) / (right - centre)
    return bank


def frame_signal(samples: np.ndarray, length: int, step: int) -> np.ndarray:
    """Frames ``(F, length)`` float64 of ``(N,)`` samples every ``step``, the last zero-padded
    (step 2 of the module docstring)."""
    n = len(samples)
    count = 1 if n <= length else 1 + math.ceil((n - length) / step)
    padded = np.concatenate([samples, np.zeros((count - 1) * step + length - n)])
    index = np.arange(length)[None, :] + step * np.arange(count)[:, None]
    return padded[index]


def power_spectrum(frames: np.ndarray, n_fft: int = N_FFT) -> np.ndarray:
    """``|rfft(frame, n_fft)|² / n_fft`` of ``(F, L)`` frames (L ≤ n_fft): ``(F, n_fft // 2 + 1)``."""
    return np.abs(np.fft.rfft(frames, n_fft)) ** 2 / n_fft


def filterbank_energies(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, np.ndarray]:
    """Mel filter energies ``(F, 26)`` and total energies ``(F,)`` of the frames (steps 1–4),
    float64, exact zeros replaced by ε."""
    samples = np.asarray(samples, np.float64)
    if samples.ndim != 1 or len(samples) == 0:
        raise ValueError(f"MFCC needs a non-empty (N,) signal, got shape {samples.shape}")
    emphasised = np.append(samples[0], samples[1:] - PRE_EMPHASIS * samples[:-1])
    length = int(math.floor(WINDOW_SECONDS * sample_rate + 0.5))
    step = int(math.floor(STEP_SECONDS * sample_rate + 0.5))
    spectrum = power_spectrum(frame_signal(emphasised, length, step))
    eps = np.finfo(np.float64).eps
    energy = spectrum.sum(axis=1)
    features = spectrum @ mel_filterbank(sample_rate=sample_rate).T
    return np.where(features == 0, eps, features), np.where(energy == 0, eps, energy)


def mfcc(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """MFCCs of a mono signal (module docstring).

    Parameters
    ----------
    samples : np.ndarray
        ``(N,)`` samples in 16-bit units (:func:`int16_scale`).
    sample_rate : int
        Hz (16000 in the protocol).

    Returns
    -------
    np.ndarray
        ``(F, 13)`` float64, F = ``1 + ceil((N − 400) / 160)`` at 16 kHz (100 frames per second).
    """
    features, energy = filterbank_energies(samples, sample_rate)
    cepstra = dct(np.log(features), type=2, axis=1, norm="ortho")[:, :N_CEPSTRA]
    cepstra *= 1.0 + (LIFTER / 2.0) * np.sin(np.pi * np.arange(N_CEPSTRA) / LIFTER)
    cepstra[:, 0] = np.log(energy)
    return cepstra
