"""The 84 low-level audio features per video frame of HeadGAN, vectorised.

The features are those of HeadGAN's audio preprocessing, which uses pyAudioAnalysis's short-term
features without chroma and its mid-term statistics:

1. The clip's signal is normalised: DC removed, divided by its largest absolute value (taken before
   the DC removal, + 1e-10).
2. Short-term features on windows of ``8 / (16·fps)`` s stepping ``1 / (16·fps)`` s (20 ms and
   2.5 ms at 25 fps; 320 and 40 samples at 16 kHz), one row per window that fits in the signal:
   zero-crossing rate, energy, energy entropy, spectral centroid, spread, entropy, flux, roll-off
   (90 %) and 13 MFCCs (40-band pyAudioAnalysis filter bank), then their deltas (difference with
   the previous window, 0 for the first): 42 values.
3. Mid-term statistics: mean and standard deviation of each of the 42 over 128 consecutive short
   windows (8 video frames) stepping 16 (1 frame): row ``m`` covers the samples from
   ``m / fps`` s on for 8.4375 frames, i.e. frame ``m`` and the 7 after it (the window looks ahead).
   Windows that would run past the last short window are cut there; there are
   ``ceil(n_short / 16)`` rows, which is the frame count ``T`` when the signal is exactly ``T``
   frames long.
4. Alignment to the clip's ``T`` video frames: extra rows are dropped; missing rows repeat the last
   row.

Column layout (:data:`FEATURE_NAMES`): the 42 means (21 features, then their 21 deltas), then the
42 standard deviations in the same order.

Constants are HeadGAN's copy of pyAudioAnalysis: ``eps = 1e-8`` (in the logarithms, the entropies,
the spectral centroid and flux) and the normalisation above. An all-zero window, where that copy
divides 0 by 0 for the centroid and spread, gets 0 for both as in pyAudioAnalysis 0.3.14.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

EPS = 1e-8
"""Small constant of HeadGAN's copy of pyAudioAnalysis (pyAudioAnalysis 0.3.14 uses 2.2e-16)."""
SHORT_PER_FRAME = 16
"""Short-term steps per video frame."""
WINDOW_FRAMES = 8
"""Video frames per short-term window (in short-term steps: 8 steps = 8/(16·fps) s) and per
mid-term window (in frames)."""
N_BLOCKS = 10
"""Sub-blocks of the energy entropy and spectral entropy."""
N_MFCC = 13
ROLLOFF = 0.90
CHUNK_WINDOWS = 2048
"""Short-term windows processed at once (bounds the temporary arrays to a few MB)."""

SHORT_TERM_NAMES = (
    "zcr",
    "energy",
    "energy_entropy",
    "spectral_centroid",
    "spectral_spread",
    "spectral_entropy",
    "spectral_flux",
    "spectral_rolloff",
    *(f"mfcc_{i}" for i in range(1, N_MFCC + 1)),
)
_WITH_DELTAS = SHORT_TERM_NAMES + tuple(f"delta_{name}" for name in SHORT_TERM_NAMES)
FEATURE_NAMES = tuple(f"{name}_mean" for name in _WITH_DELTAS) + tuple(f"{name}_std" for name in _WITH_DELTAS)
"""Names of the 84 columns of :func:`lowlevel_features`."""
N_FEATURES = len(FEATURE_NAMES)


def analysis_windows(sample_rate: int, fps: float) -> tuple[int, int]:
    """Short-term ``(window, step)`` in samples: ``8/(16·fps)`` s and ``1/(16·fps)`` s, rounded."""
    return round(sample_rate * WINDOW_FRAMES / (SHORT_PER_FRAME * fps)), round(sample_rate / (SHORT_PER_FRAME * fps))


def count_windows(n_samples: int, window: int, step: int) -> int:
    """Number of short-term windows of ``window`` samples every ``step`` that fit in the signal."""
    return (n_samples - window) // step + 1 if n_samples >= window else 0


def mfcc_filter_bank(sample_rate: int, n_fft: int) -> np.ndarray:
    """pyAudioAnalysis's MFCC filter bank: 13 linear + 27 log-spaced triangles.

    The bins are taken as ``k · sample_rate / n_fft`` Hz (as pyAudioAnalysis does, for the first
    ``n_fft`` bins of a ``2·n_fft``-sample FFT).

    Returns
    -------
    np.ndarray
        ``(40, n_fft)`` float64 weights.
    """
    n_lin, n_log = 13, 27
    edges = np.zeros(n_lin + n_log + 2)
    edges[:n_lin] = 133.33 + np.arange(n_lin) * (200 / 3)
    edges[n_lin:] = edges[n_lin - 1] * 1.0711703 ** np.arange(1, n_log + 3)
    heights = 2.0 / (edges[2:] - edges[:-2])
    bank = np.zeros((n_lin + n_log, n_fft))
    bins_hz = np.arange(n_fft) / n_fft * sample_rate
    for i in range(n_lin + n_log):
        low, centre, high = edges[i : i + 3]
        rising = np.arange(
            np.floor(low * n_fft / sample_rate) + 1, np.floor(centre * n_fft / sample_rate) + 1, dtype=int
        )
        falling = np.arange(
            np.floor(centre * n_fft / sample_rate) + 1, np.floor(high * n_fft / sample_rate) + 1, dtype=int
        )
        bank[i, rising] = heights[i] / (centre - low) * (bins_hz[rising] - low)
        bank[i, falling] = heights[i] / (high - centre) * (high - bins_hz[falling])
    return bank


def normalise(signal: np.ndarray) -> np.ndarray:
    """``(N,)`` float64: ``(s - mean(s)) / (max|s| + 1e-10)``."""
    signal = np.asarray(signal, dtype=np.float64)
    return (signal - signal.mean()) / (np.abs(signal).max() + 1e-10)


def _entropy(block_energies: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Entropy of the shares ``(n, blocks)`` of the totals ``(n,)`` (+ :data:`EPS`)."""
    shares = block_energies / (total + EPS)[:, None]
    return -np.sum(shares * np.log2(shares + EPS), axis=1)


@functools.cache
def dct_matrix(n: int) -> np.ndarray:
    """``(n, n)`` orthonormal DCT-II matrix: ``x @ dct_matrix(n).T`` is ``scipy.fft.dct(x, type=2,
    norm="ortho")`` (pyAudioAnalysis' MFCC step), without importing scipy.fft (≈0.2 s a job)."""
    k, i = np.arange(n)[:, None], np.arange(n)[None, :]
    matrix = np.sqrt(2.0 / n) * np.cos(np.pi * k * (2 * i + 1) / (2 * n))
    matrix[0] /= np.sqrt(2.0)
    matrix.flags.writeable = False
    return matrix


def _block_sums(squared: np.ndarray) -> np.ndarray:
    """Sums of :data:`N_BLOCKS` equal consecutive blocks of each row (a remainder is left out)."""
    length = squared.shape[1] // N_BLOCKS
    return squared[:, : length * N_BLOCKS].reshape(len(squared), N_BLOCKS, length).sum(axis=2)


def _chunk_features(windows: np.ndarray, previous: np.ndarray, sample_rate: int, bank: np.ndarray) -> tuple:
    """Features 1–20 (all but the zero-crossing rate) of a block of windows.

    ``previous`` is the spectrum of the window before the first one. Returns
    ``(features (n, 21) with column 0 unset, spectrum of the last window (n_fft,))``.
    """
    n, length = windows.shape
    n_fft = length // 2
    features = np.empty((n, len(SHORT_TERM_NAMES)))
    squared = windows * windows
    energy = squared.sum(axis=1)
    features[:, 1] = energy / length
    features[:, 2] = _entropy(_block_sums(squared), energy)

    spectrum = np.abs(np.fft.rfft(windows, axis=1)[:, :n_fft]) / n_fft
    peak = spectrum.max(axis=1, keepdims=True)
    scaled = spectrum / np.where(peak == 0, EPS, peak)
    hz = np.arange(1, n_fft + 1) * (sample_rate / (2.0 * n_fft))
    den = scaled.sum(axis=1) + EPS
    centroid = scaled @ hz / den
    spread = np.sqrt(np.einsum("ij,ij->i", (hz[None, :] - centroid[:, None]) ** 2, scaled) / den)
    features[:, 3] = centroid / (sample_rate / 2.0)
    features[:, 4] = spread / (sample_rate / 2.0)
    power = spectrum * spectrum
    total_power = power.sum(axis=1)
    features[:, 5] = _entropy(_block_sums(power), total_power)

    with_previous = np.vstack([previous[None, :], spectrum])
    shares = with_previous / (with_previous + EPS).sum(axis=1, keepdims=True)
    features[:, 6] = np.sum(np.diff(shares, axis=0) ** 2, axis=1)

    above = np.cumsum(power, axis=1) + EPS > ROLLOFF * total_power[:, None]
    features[:, 7] = np.where(above.any(axis=1), above.argmax(axis=1), 0) / n_fft

    log_mel = np.log10(spectrum @ bank.T + EPS)
    features[:, 8:] = log_mel @ dct_matrix(log_mel.shape[1])[:N_MFCC].T
    return features, spectrum[-1]


def zero_crossing_rates(signal: np.ndarray, window: int, step: int, n: int) -> np.ndarray:
    """``(n,)`` zero-crossing rate of each window: ``sum |diff(sign)| / 2 / (window - 1)``.

    Counted once over the whole signal and summed per window with a cumulative sum, which is exact
    (the counts are small integers).
    """
    changes = np.abs(np.diff(np.sign(signal)))
    cumulative = np.concatenate([[0.0], np.cumsum(changes)])
    starts = np.arange(n) * step
    return (cumulative[starts + window - 1] - cumulative[starts]) / 2 / (window - 1)


def short_term_features(signal: np.ndarray, sample_rate: int, window: int, step: int) -> np.ndarray:
    """Short-term features and their deltas of an already normalised signal (:func:`normalise`).

    Parameters
    ----------
    signal : np.ndarray
        ``(N,)`` samples.
    sample_rate : int
        Hz.
    window, step : int
        Window length and step, samples.

    Returns
    -------
    np.ndarray
        ``(n, 42)`` float64, ``n`` = :func:`count_windows`: :data:`SHORT_TERM_NAMES`, then their
        deltas.
    """
    signal = np.asarray(signal, dtype=np.float64)
    n = count_windows(len(signal), window, step)
    out = np.zeros((n, 2 * len(SHORT_TERM_NAMES)))
    if n == 0:
        return out
    windows = sliding_window_view(signal, window)[::step][:n]
    bank = mfcc_filter_bank(sample_rate, window // 2)
    previous = None
    for start in range(0, n, CHUNK_WINDOWS):
        block = windows[start : start + CHUNK_WINDOWS]
        if previous is None:
            previous = np.abs(np.fft.rfft(block[0])[: window // 2]) / (window // 2)
        out[start : start + len(block), : len(SHORT_TERM_NAMES)], previous = _chunk_features(
            block, previous, sample_rate, bank
        )
    out[:, 0] = zero_crossing_rates(signal, window, step, n)
    out[1:, len(SHORT_TERM_NAMES) :] = np.diff(out[:, : len(SHORT_TERM_NAMES)], axis=0)
    return out


def mid_term_statistics(short: np.ndarray, window: int, step: int) -> np.ndarray:
    """Mean and standard deviation of every column over windows of ``window`` rows every ``step``.

    Windows start at rows ``0, step, 2·step, …`` while the start is a row of ``short``; a window
    that would run past the last row ends there.

    Parameters
    ----------
    short : np.ndarray
        ``(n, F)`` short-term features.
    window, step : int
        In rows.

    Returns
    -------
    np.ndarray
        ``(ceil(n / step), 2·F)`` float64: the F means, then the F standard deviations.
    """
    n, n_features = short.shape
    starts = np.arange(0, n, step)
    out = np.empty((len(starts), 2 * n_features))
    n_full = int(np.sum(starts + window <= n))
    if n_full:
        views = sliding_window_view(short, window, axis=0)[::step][:n_full]
        out[:n_full, :n_features] = views.mean(axis=2)
        out[:n_full, n_features:] = views.std(axis=2)
    for row, start in enumerate(starts[n_full:], n_full):
        tail = short[start:]
        out[row, :n_features] = tail.mean(axis=0)
        out[row, n_features:] = tail.std(axis=0)
    return out


def align_rows(rows: np.ndarray, n_frames: int) -> np.ndarray:
    """``(n_frames, F)``: the first ``n_frames`` rows, the last row repeated when there are fewer.

    ``rows`` must have at least one row.
    """
    if len(rows) >= n_frames:
        return rows[:n_frames]
    return np.concatenate([rows, np.repeat(rows[-1:], n_frames - len(rows), axis=0)])


def lowlevel_features(audio: np.ndarray, sample_rate: int, fps: float, n_frames: int) -> np.ndarray:
    """The 84 low-level features of each of a clip's ``n_frames`` video frames.

    Parameters
    ----------
    audio : np.ndarray
        ``(N,)`` mono samples, any scale (the signal is normalised first).
    sample_rate : int
        Hz.
    fps : float
        Video frame rate, frames/s.
    n_frames : int
        Frames ``T`` of the clip; the rows are aligned to them (module docstring, step 4).

    Returns
    -------
    np.ndarray
        ``(T, 84)`` float64, columns :data:`FEATURE_NAMES`.

    Raises
    ------
    ValueError
        The audio is shorter than one short-term window.
    """
    window, step = analysis_windows(sample_rate, fps)
    if count_windows(len(audio), window, step) == 0:
        raise ValueError(f"{len(audio)} samples are shorter than one analysis window ({window} samples)")
    short = short_term_features(normalise(audio), sample_rate, window, step)
    frame_step = round(round(sample_rate / fps) / step)
    mid = mid_term_statistics(short, round(round(sample_rate * WINDOW_FRAMES / fps) / step), frame_step)
    return align_rows(mid, n_frames)
