"""The 84 low-level features: equality with pyAudioAnalysis on speech, windows and frame alignment.

pyAudioAnalysis is the reference, with the two constants of HeadGAN's copy of it set
(``eps = 1e-8``; normalisation by the largest absolute sample taken before the DC removal).
"""

import numpy as np
import pytest

from headgan_prep.audio import lowlevel as audio_lowlevel
from headgan_prep.audio.lowlevel import (
    FEATURE_NAMES,
    align_rows,
    analysis_windows,
    count_windows,
    dct_matrix,
    lowlevel_features,
    mid_term_statistics,
    normalise,
    short_term_features,
)
from headgan_prep.demo.generate import AUDIO_RATE, SOURCES, speech

CHROMA_FREE = list(range(21)) + list(range(34, 55))
"""Rows of pyAudioAnalysis's 68 short-term features without the 13 chroma values and their deltas."""


@pytest.fixture(scope="module")
def spoken(tmp_path_factory) -> np.ndarray:
    """3 s of espeak-ng speech (with silence before and after), float32 in [-1, 1]."""
    samples = speech(
        SOURCES[0].voice,
        "We have to leave before it starts raining.",
        3 * AUDIO_RATE,
        tmp_path_factory.mktemp("speech"),
    )
    return samples.astype(np.float32) / 32768


@pytest.fixture
def reference(monkeypatch):
    """pyAudioAnalysis's MidTermFeatures with HeadGAN's constants."""
    short_term = pytest.importorskip("pyAudioAnalysis.ShortTermFeatures")
    mid_term = pytest.importorskip("pyAudioAnalysis.MidTermFeatures")
    monkeypatch.setattr(short_term, "eps", audio_lowlevel.EPS)
    monkeypatch.setattr(short_term, "dc_normalize", lambda s: (s - s.mean()) / (np.abs(s).max() + 1e-10))
    return mid_term


@pytest.mark.parametrize("fps", [25.0, 30.0])
def test_matches_pyaudioanalysis_on_speech(spoken, reference, fps):
    window, step = analysis_windows(AUDIO_RATE, fps)
    frame = round(AUDIO_RATE / fps)
    # pyAudioAnalysis 0.3.14 takes (mid_window - (window - step)) / step short windows per mid window
    mid_window = round(AUDIO_RATE * 8 / fps) + window - step
    mid, short, _ = reference.mid_feature_extraction(
        spoken.astype(np.float64) * 32768, AUDIO_RATE, mid_window, frame, window, step
    )
    expected_short = short[CHROMA_FREE].T
    expected = np.concatenate([mid[CHROMA_FREE], mid[[68 + i for i in CHROMA_FREE]]]).T

    ours_short = short_term_features(normalise(spoken), AUDIO_RATE, window, step)
    np.testing.assert_allclose(ours_short, expected_short, rtol=1e-5, atol=1e-9)
    n_frames = len(expected)
    ours = lowlevel_features(spoken, AUDIO_RATE, fps, n_frames)
    assert ours.shape == (n_frames, len(FEATURE_NAMES)) == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-9)
    assert np.abs(ours).max(axis=0).min() > 0  # every column carries signal


def test_windows_at_25_fps_16_khz():
    assert analysis_windows(16000, 25.0) == (320, 40)
    assert count_windows(319, 320, 40) == 0
    assert count_windows(320, 320, 40) == 1
    # T frames of 640 samples → 16 T - 7 windows → ceil((16 T - 7) / 16) = T mid-term rows
    assert count_windows(640 * 25, 320, 40) == 393
    rng = np.random.default_rng(0)
    for n_frames in (1, 8, 25):
        audio = rng.standard_normal(640 * n_frames).astype(np.float32)
        rows = mid_term_statistics(short_term_features(normalise(audio), 16000, 320, 40), 128, 16)
        assert len(rows) == n_frames


def test_mid_term_windows_are_cut_at_the_end():
    short = np.arange(10, dtype=np.float64)[:, None]
    stats = mid_term_statistics(short, window=4, step=2)
    # windows: rows 0-3, 2-5, 4-7, 6-9, 8-9
    np.testing.assert_allclose(stats[:, 0], [1.5, 3.5, 5.5, 7.5, 8.5])
    np.testing.assert_allclose(stats[:, 1], [np.sqrt(1.25)] * 4 + [0.5])


def test_rows_are_aligned_to_the_frame_count():
    rows = np.arange(12, dtype=np.float64).reshape(4, 3)
    np.testing.assert_array_equal(align_rows(rows, 2), rows[:2])
    np.testing.assert_array_equal(align_rows(rows, 4), rows)
    np.testing.assert_array_equal(align_rows(rows, 6), np.vstack([rows, rows[3], rows[3]]))


def test_audio_longer_or_shorter_than_the_video():
    rng = np.random.default_rng(1)
    audio = rng.standard_normal(640 * 10).astype(np.float32)
    full = lowlevel_features(audio, 16000, 25.0, 10)
    np.testing.assert_array_equal(lowlevel_features(audio, 16000, 25.0, 7), full[:7])
    padded = lowlevel_features(audio, 16000, 25.0, 13)
    np.testing.assert_array_equal(padded[:10], full)
    np.testing.assert_array_equal(padded[10:], np.repeat(full[9:], 3, axis=0))


def test_row_m_looks_at_frames_m_to_m_plus_7():
    # row m covers samples [640 m, 640 m + 5400): frames m..m+7 and the first 280 samples of frame
    # m+8. A zero-mean burst at samples 300..620 of frame 20 changes rows 13..20 only.
    rng = np.random.default_rng(2)
    quiet = 0.01 * rng.standard_normal(640 * 30)
    loud = quiet.copy()
    loud[640 * 20 + 300 : 640 * 20 + 620] += 0.5 * np.sin(2 * np.pi * np.arange(320) / 40)
    loud[0] = quiet[0] = 0.6  # the same peak: the same normalisation
    energy = FEATURE_NAMES.index("energy_mean")
    before = lowlevel_features(quiet, 16000, 25.0, 30)[:, energy]
    after = lowlevel_features(loud, 16000, 25.0, 30)[:, energy]
    changed = np.flatnonzero(np.abs(after - before) > 1e-3 * before)
    assert changed.tolist() == list(range(13, 21))


def test_signal_shorter_than_one_window_is_an_error():
    with pytest.raises(ValueError, match="shorter than one analysis window"):
        lowlevel_features(np.ones(100, np.float32), 16000, 25.0, 3)


def test_all_zero_windows_are_finite():
    features = short_term_features(np.zeros(1000), 16000, 320, 40)
    assert np.isfinite(features).all()
    centroid = audio_lowlevel.SHORT_TERM_NAMES.index("spectral_centroid")
    np.testing.assert_array_equal(features[:, centroid : centroid + 2], 0)
    np.testing.assert_allclose(features[:, 8], np.log10(audio_lowlevel.EPS) * np.sqrt(40))  # DC term of the DCT


@pytest.mark.parametrize("n", [1, 7, 40])
def test_dct_matrix_is_scipys_orthonormal_dct_ii(n):
    from scipy.fft import dct

    x = np.random.default_rng(n).normal(size=(5, n))
    np.testing.assert_allclose(x @ dct_matrix(n).T, dct(x, type=2, norm="ortho", axis=1), atol=1e-12)
