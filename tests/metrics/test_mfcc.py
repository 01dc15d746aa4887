"""MFCCs: python_speech_features' own output on a fixed signal, and direct computations on hand-built signals."""

from pathlib import Path

import numpy as np
import pytest
from scipy.fft import dct

from headgan_model.metrics.mfcc import filterbank_energies, hz_to_mel, int16_scale, mel_filterbank, mel_to_hz, mfcc

DATA = Path(__file__).parent / "data"
RATE = 16000


def test_equal_to_python_speech_features():
    reference = np.load(DATA / "mfcc_reference.npz")  # written by make_mfcc_reference.py
    np.testing.assert_allclose(mfcc(reference["signal"].astype(np.float64)), reference["mfcc"], rtol=1e-10, atol=1e-9)


def test_frame_count_is_100_per_second():
    assert mfcc(np.ones(RATE)).shape == (1 + int(np.ceil((RATE - 400) / 160)), 13) == (99, 13)
    assert mfcc(np.ones(300)).shape == (1, 13)  # shorter than one window: one zero-padded frame
    with pytest.raises(ValueError, match="non-empty"):
        mfcc(np.zeros(0))


def filter_of(hz: float) -> int:
    """Index of the mel filter whose centre is nearest ``hz``."""
    mels = np.linspace(0, hz_to_mel(RATE / 2), 28)
    return int(np.argmin(np.abs(mel_to_hz(mels[1:-1]) - hz)))


@pytest.mark.parametrize("hz", [250.0, 1000.0, 3000.0])
def test_a_pure_tone_lands_in_its_filter(hz):
    t = np.arange(RATE // 2) / RATE
    features, energy = filterbank_energies(int16_scale(0.5 * np.sin(2 * np.pi * hz * t)))
    strongest = np.argmax(features[5:-5], axis=1)
    assert set(strongest) <= {filter_of(hz) - 1, filter_of(hz), filter_of(hz) + 1}
    assert np.bincount(strongest).argmax() in (filter_of(hz), filter_of(hz) - 1, filter_of(hz) + 1)
    # energy: the frame's power spectrum summed, the spectrum of the pre-emphasised 400 samples
    x = int16_scale(0.5 * np.sin(2 * np.pi * hz * t))
    emphasised = np.append(x[0], x[1:] - 0.97 * x[:-1])
    frame = emphasised[160 * 7 : 160 * 7 + 400]
    assert energy[7] == pytest.approx((np.abs(np.fft.rfft(frame, 512)) ** 2).sum() / 512, rel=1e-12)


def test_cepstra_of_a_hand_computed_frame():
    """One frame of seeded noise, every step written out: the log filter energies, DCT, lifter, log energy."""
    x = np.random.default_rng(3).normal(scale=3000, size=400)
    emphasised = np.append(x[0], x[1:] - 0.97 * x[:-1])
    spectrum = np.abs(np.fft.rfft(emphasised, 512)) ** 2 / 512
    bank = mel_filterbank()
    log_energies = np.log(bank @ spectrum)
    n = np.arange(26)
    basis = np.sqrt(2 / 26) * np.cos(np.pi * np.outer(np.arange(13), 2 * n + 1) / 52)
    basis[0] /= np.sqrt(2)
    expected = (basis @ log_energies) * (1 + 11 * np.sin(np.pi * np.arange(13) / 22))
    expected[0] = np.log(spectrum.sum())
    np.testing.assert_allclose(mfcc(x)[0], expected, rtol=1e-10)
    np.testing.assert_allclose(basis @ log_energies, dct(log_energies, norm="ortho")[:13], rtol=1e-12)


def test_filterbank_shape_and_triangles():
    bank = mel_filterbank()
    assert bank.shape == (26, 257) and bank.max() == 1.0 and bank.min() == 0.0
    edges = np.floor(513 * mel_to_hz(np.linspace(0, hz_to_mel(8000), 28)) / RATE).astype(int)
    for j in range(26):
        assert bank[j, edges[j + 1]] == 1.0 and bank[j, edges[j]] == 0.0
        assert np.flatnonzero(bank[j]).max() < edges[j + 2]


def test_int16_scale():
    np.testing.assert_array_equal(int16_scale([0.0, 0.5, -1.0, 1.0, 2e-5]), [0, 16384, -32768, 32767, 1])
