"""DeepSpeech 0.9.3 character features: MFCC front end, acoustic model (TFLite), per-frame classes.

The acoustic model is the ``.tflite`` file of the DeepSpeech v0.9.3 release (MPL-2.0), run with
ai-edge-litert. Its interface (tensor names; float32):

* ``input_node`` (1, n_steps, 19, 26): n_steps MFCC frames, each with 9 frames of context either
  side (n_steps is 16 in the release file);
* ``previous_state_c``, ``previous_state_h`` (1, 2048): LSTM state, zeros at the start of a clip;
* ``logits`` (n_steps, 29): softmax over the alphabet ``" abcdefghijklmnopqrstuvwxyz'"`` and the
  CTC blank; ``new_state_c``, ``new_state_h``: the state for the next call.

The front end is DeepSpeech's, reimplemented: windows of 512 samples (32 ms at 16 kHz) every 320
(20 ms), periodic Hann window, 512-point power spectrum (TensorFlow's AudioSpectrogram), 40 mel
channels between 20 and 8000 Hz over the magnitudes, natural log floored at 1e-12, and the first
26 coefficients of TensorFlow's unnormalised DCT (its Mfcc op). As DeepSpeech's streaming client
does, the samples left after the last full window form one more window (here zero-padded; the
client leaves the previous window's samples in place), and 9 zero frames of context are added at
either end. MFCC frame ``k`` starts at ``k · 20`` ms.

Per video frame (``T`` frames at ``fps``), the 27 classes a–z and ``other`` (space, apostrophe and
blank) are derived in one of two ways:

* ``tokens`` (HeadGAN's code): greedy CTC decoding gives characters with the step at which each
  starts; frame ``n`` takes the character active at ``(n + 5) / fps`` s (the last one starting at
  or before that time; ``other`` before the first; the last character from the end of the audio
  on), one-hot. With backend ``deepspeech`` the characters and steps come from Mozilla's
  ``deepspeech`` package instead (:mod:`headgan_prep.audio.deepspeech_package`).
* ``logits`` (HeadGAN's paper): the mean of the class probabilities of the MFCC steps whose
  window centre (``k · 20 + 16`` ms) falls in the frame, with space, apostrophe and blank summed
  into ``other`` (the nearest step for a frame without one).

Then each frame gets the 8 frames ``t − 4 … t + 3`` (indices clamped to the clip):
``(T, 8 · 27)``, window position major.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

SAMPLE_RATE = 16000
WINDOW = 512
"""Analysis window, samples (32 ms)."""
STEP = 320
"""Analysis step, samples (20 ms)."""
N_INPUT = 26
N_CONTEXT = 9
N_MEL = 40
LOWER_HZ, UPPER_HZ = 20.0, 8000.0
LOG_FLOOR = 1e-12
ALPHABET = " abcdefghijklmnopqrstuvwxyz'"
"""Characters of the model's output classes 0–27; class 28 is the CTC blank."""
BLANK = len(ALPHABET)
TOKEN_OFFSET_FRAMES = 5
"""Frame ``n`` takes the character active at frame time ``n + 5`` (HeadGAN's code)."""
WINDOW_FRAMES = 8
N_CLASSES = 27
"""a–z, then ``other``."""
_TO_27 = np.array([ord(c) - ord("a") if "a" <= c <= "z" else 26 for c in ALPHABET] + [26])
"""Class of each of the 29 model outputs among the 27."""


def _mel(hz: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


def mel_weights(n_bins: int = WINDOW // 2 + 1) -> np.ndarray:
    """TensorFlow's MFCC mel filter bank as a ``(n_bins, 40)`` matrix over spectral magnitudes.

    Bins ``i · (SAMPLE_RATE / 2) / (n_bins − 1)`` Hz between the lower and upper limits contribute
    to the channel whose centre is just below them (weight ``w``) and to the next (``1 − w``),
    with 41 centres equally spaced in mel above the lower limit (HTK style, DC excluded).
    """
    mel_low, mel_high = _mel(LOWER_HZ), _mel(UPPER_HZ)
    centres = mel_low + (mel_high - mel_low) / (N_MEL + 1) * np.arange(1, N_MEL + 2)
    hz_per_bin = 0.5 * SAMPLE_RATE / (n_bins - 1)
    start, end = int(1.5 + LOWER_HZ / hz_per_bin), int(UPPER_HZ / hz_per_bin)
    matrix = np.zeros((n_bins, N_MEL))
    for i in range(start, end + 1):
        mel = _mel(i * hz_per_bin)
        channel = int(np.sum(centres[:N_MEL] < mel)) - 1
        if channel >= 0:
            weight = (centres[channel + 1] - mel) / (centres[channel + 1] - centres[channel])
            matrix[i, channel] += weight
        else:
            weight = (centres[0] - mel) / (centres[0] - mel_low)
        if channel + 1 < N_MEL:
            matrix[i, channel + 1] += 1.0 - weight
    return matrix


def dct_matrix() -> np.ndarray:
    """``(40, 26)`` TensorFlow MFCC DCT: ``sqrt(2/40) · cos(π i (j + ½) / 40)``, no special DC scale."""
    j = np.arange(N_MEL)[:, None]
    i = np.arange(N_INPUT)[None, :]
    return np.sqrt(2.0 / N_MEL) * np.cos(np.pi / N_MEL * i * (j + 0.5))


def mfcc(audio: np.ndarray) -> np.ndarray:
    """DeepSpeech's MFCCs of a clip (module docstring).

    Parameters
    ----------
    audio : np.ndarray
        ``(N,)`` mono samples in [-1, 1] at 16 kHz.

    Returns
    -------
    np.ndarray
        ``(M, 26)`` float32, ``M = (N − 512) // 320 + 2`` for ``N ≥ 512``, else 1.
    """
    audio = np.asarray(audio, dtype=np.float64)
    n_full = (len(audio) - WINDOW) // STEP + 1 if len(audio) >= WINDOW else 0
    rest = audio[n_full * STEP :]
    padded = np.concatenate([audio[: n_full * STEP], rest, np.zeros(WINDOW - len(rest))])
    frames = sliding_window_view(padded, WINDOW)[::STEP][: n_full + 1]
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / WINDOW)
    power = np.abs(np.fft.rfft(frames * hann, axis=1)) ** 2
    mel = np.sqrt(power) @ mel_weights(power.shape[1])
    return (np.log(np.maximum(mel, LOG_FLOOR)) @ dct_matrix()).astype(np.float32)


def context_windows(features: np.ndarray) -> np.ndarray:
    """``(M, 19, 26)``: each MFCC frame with the 9 before and after it, zeros beyond the clip."""
    padded = np.concatenate(
        [np.zeros((N_CONTEXT, N_INPUT), np.float32), features, np.zeros((N_CONTEXT, N_INPUT), np.float32)]
    )
    return sliding_window_view(padded, (2 * N_CONTEXT + 1, N_INPUT))[:, 0]


class DeepSpeechModel:
    """The acoustic model of a DeepSpeech ``.tflite`` file (interface in the module docstring).

    Parameters
    ----------
    path : Path
        The ``.tflite`` file.
    threads : int
        Interpreter threads.

    Raises
    ------
    ValueError
        The file does not have DeepSpeech's tensors.
    """

    def __init__(self, path: Path, threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        self._interpreter = Interpreter(model_path=str(path), num_threads=threads)
        self._interpreter.allocate_tensors()
        details = self._interpreter.get_input_details() + self._interpreter.get_output_details()
        tensors = {d["name"]: d for d in details}
        wanted = ("input_node", "previous_state_c", "previous_state_h", "logits", "new_state_c", "new_state_h")
        missing = [name for name in wanted if name not in tensors]
        if missing:
            raise ValueError(f"{path} is not a DeepSpeech acoustic model: no tensor(s) {', '.join(missing)}")
        shape = tuple(tensors["input_node"]["shape"])
        if shape[0] != 1 or shape[2:] != (2 * N_CONTEXT + 1, N_INPUT):
            raise ValueError(f"{path}: input_node has shape {shape}, expected (1, n_steps, 19, 26)")
        self.n_steps = shape[1]
        self.state_size = int(tensors["previous_state_c"]["shape"][1])
        self._index = {name: tensors[name]["index"] for name in wanted}

    def probabilities(self, windows: np.ndarray) -> np.ndarray:
        """``(M, 29)`` class probabilities of ``(M, 19, 26)`` context windows (:func:`context_windows`).

        The windows go through in blocks of ``n_steps`` (the last one zero-padded) with the LSTM
        state carried from block to block, starting from zeros.
        """
        it, index = self._interpreter, self._index
        state_c = np.zeros((1, self.state_size), np.float32)
        state_h = np.zeros((1, self.state_size), np.float32)
        out = []
        for start in range(0, len(windows), self.n_steps):
            block = np.zeros((1, self.n_steps, 2 * N_CONTEXT + 1, N_INPUT), np.float32)
            chunk = windows[start : start + self.n_steps]
            block[0, : len(chunk)] = chunk
            it.set_tensor(index["input_node"], block)
            it.set_tensor(index["previous_state_c"], state_c)
            it.set_tensor(index["previous_state_h"], state_h)
            it.invoke()
            out.append(it.get_tensor(index["logits"]).reshape(self.n_steps, -1)[: len(chunk)].copy())
            state_c = it.get_tensor(index["new_state_c"]).copy()
            state_h = it.get_tensor(index["new_state_h"]).copy()
        return np.concatenate(out) if out else np.zeros((0, BLANK + 1), np.float32)

    def tokens(self, audio: np.ndarray) -> list[Token]:
        """Greedy-decoded characters of ``(N,)`` samples in [-1, 1] at 16 kHz (:func:`greedy_tokens`)."""
        return greedy_tokens(self.probabilities(context_windows(mfcc(audio))))


@dataclass(frozen=True)
class Token:
    """A decoded character and the MFCC step (20 ms) at which it starts."""

    text: str
    step: int

    @property
    def start_s(self) -> float:
        """Start time, seconds."""
        return self.step * STEP / SAMPLE_RATE


def greedy_tokens(probabilities: np.ndarray) -> list[Token]:
    """Greedy CTC decoding of ``(M, 29)`` probabilities: the most likely class per step, repeats
    merged, blanks dropped; each character keeps the step where its run starts."""
    best = np.argmax(probabilities, axis=1)
    starts = np.flatnonzero(np.r_[True, best[1:] != best[:-1]])
    return [Token(ALPHABET[best[k]], int(k)) for k in starts if best[k] != BLANK]


def token_classes(tokens: list[Token], n_frames: int, fps: float, audio_seconds: float) -> np.ndarray:
    """``(T,)`` class (0–26) of each frame: the character active at ``(n + 5) / fps`` s.

    The active character is the last one starting at or before that time (``other`` before the
    first); from ``audio_seconds`` on, the last character. Letters are classes 0–25, anything else
    26.
    """
    classes = np.array([ord(t.text) - ord("a") if "a" <= t.text <= "z" else 26 for t in tokens] + [26])
    if not tokens:
        return np.full(n_frames, 26)
    starts = np.array([t.start_s for t in tokens])
    times = (np.arange(n_frames) + TOKEN_OFFSET_FRAMES) / fps
    active = np.searchsorted(starts, times, side="right") - 1  # -1: before the first token
    active[times >= audio_seconds] = len(tokens) - 1
    return classes[active]


def frame_probabilities(probabilities: np.ndarray, n_frames: int, fps: float) -> np.ndarray:
    """``(T, 27)`` per-frame class probabilities of ``(M, 29)`` step probabilities.

    Frame ``t`` averages the steps whose window centre (``k · 20 + 16`` ms) lies in
    ``[t / fps, (t + 1) / fps)``; a frame without such a step (after the end of the audio, or at
    more than 50 frames/s) takes the step whose centre is nearest to its own centre. Space,
    apostrophe and blank are summed into ``other``.
    """
    merged = np.zeros((len(probabilities), N_CLASSES))
    np.add.at(merged.T, _TO_27, probabilities.T.astype(np.float64))
    centres = (np.arange(len(probabilities)) * STEP + WINDOW / 2) / SAMPLE_RATE
    frame_of_step = np.floor(centres * fps).astype(int)
    inside = frame_of_step < n_frames
    sums = np.zeros((n_frames, N_CLASSES))
    np.add.at(sums, frame_of_step[inside], merged[inside])
    counts = np.bincount(frame_of_step[inside], minlength=n_frames)
    nearest = np.rint(((np.arange(n_frames) + 0.5) / fps * SAMPLE_RATE - WINDOW / 2) / STEP).astype(int)
    nearest = np.clip(nearest, 0, len(probabilities) - 1)
    return np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], merged[nearest])


def windowed(per_frame: np.ndarray) -> np.ndarray:
    """``(T, 8 · 27)``: for frame t, the rows of frames t − 4 … t + 3 (clamped), concatenated."""
    n_frames = len(per_frame)
    offsets = np.arange(WINDOW_FRAMES) - WINDOW_FRAMES // 2
    rows = np.clip(np.arange(n_frames)[:, None] + offsets[None, :], 0, n_frames - 1)
    return per_frame[rows].reshape(n_frames, -1)


class CharacterModel(Protocol):
    """What gives greedy-decoded characters of ``(N,)`` samples in [-1, 1] at 16 kHz: the ``litert``
    backend's :class:`DeepSpeechModel`, or the ``deepspeech`` package's
    :class:`~headgan_prep.audio.deepspeech_package.DeepSpeechPackageModel`."""

    def tokens(self, audio: np.ndarray) -> list[Token]: ...


def deepspeech_features(
    model: DeepSpeechModel | CharacterModel, audio: np.ndarray, n_frames: int, fps: float, mode: str
) -> tuple[np.ndarray, str]:
    """The 216 DeepSpeech features of each of a clip's frames, and the transcript.

    Parameters
    ----------
    model : DeepSpeechModel or DeepSpeechPackageModel
        The ``litert`` backend's model, or the ``deepspeech`` package's (mode ``tokens`` only).
    audio : np.ndarray
        ``(N,)`` mono samples in [-1, 1] at 16 kHz.
    n_frames : int
        Frames ``T`` of the clip.
    fps : float
        Frame rate, frames/s.
    mode : str
        ``tokens`` or ``logits`` (module docstring).

    Returns
    -------
    features : np.ndarray
        ``(T, 216)`` float32.
    transcript : str
    """
    if mode == "tokens":
        tokens = model.tokens(audio)
        per_frame = np.eye(N_CLASSES)[token_classes(tokens, n_frames, fps, len(audio) / SAMPLE_RATE)]
    elif mode == "logits":
        probabilities = model.probabilities(context_windows(mfcc(audio)))
        tokens = greedy_tokens(probabilities)
        per_frame = frame_probabilities(probabilities, n_frames, fps)
    else:
        raise ValueError(f"mode must be tokens or logits, got {mode!r}")
    return windowed(per_frame).astype(np.float32), "".join(t.text for t in tokens)
