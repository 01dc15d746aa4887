"""DeepSpeech features: MFCC front end against TFLite's own kernels, the model runner, CTC decoding,
token timing → frames and the window layout (hand-computed cases).

``tests/audio/data/deepspeech_tiny.tflite`` (made by ``tests/audio/data/make_deepspeech_tflite.py``) has the
tensors of the DeepSpeech 0.9.3 release model, including its MFCC subgraph (TensorFlow's
AudioSpectrogram and Mfcc kernels), and a tiny network instead of the acoustic model.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from headgan_prep.audio import deepspeech as ds
from headgan_prep.audio.deepspeech import (
    BLANK,
    DeepSpeechModel,
    Token,
    context_windows,
    deepspeech_features,
    frame_probabilities,
    greedy_tokens,
    mfcc,
    token_classes,
    windowed,
)
from headgan_prep.demo.generate import SOURCES, speech

DATA = Path(__file__).parent / "data"
TINY = DATA / "deepspeech_tiny.tflite"


def tiny_weights():
    spec = importlib.util.spec_from_file_location("make_deepspeech_tflite", DATA / "make_deepspeech_tflite.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.weights()


@pytest.fixture(scope="module")
def spoken(tmp_path_factory) -> np.ndarray:
    samples = speech(SOURCES[2].voice, "Please call me back tomorrow.", 32000, tmp_path_factory.mktemp("speech"))
    return samples.astype(np.float32) / 32768


@pytest.fixture(scope="module")
def model() -> DeepSpeechModel:
    return DeepSpeechModel(TINY)


def test_mfcc_matches_the_tflite_kernels(spoken, model):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(TINY))
    interpreter.allocate_tensors()
    index = {d["name"]: d["index"] for d in interpreter.get_input_details() + interpreter.get_output_details()}
    ours = mfcc(spoken)
    for k in (0, 10, 40, 60, 97):  # silence, speech, the last full window
        interpreter.set_tensor(index["input_samples"], spoken[k * 320 : k * 320 + 512])
        interpreter.invoke()
        np.testing.assert_allclose(ours[k], interpreter.get_tensor(index["mfccs"])[0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("n_samples, n_frames", [(100, 1), (511, 1), (512, 2), (831, 2), (832, 3), (32000, 100)])
def test_mfcc_frame_count(n_samples, n_frames):
    # full windows of 512 every 320, then one zero-padded window with the rest
    assert mfcc(np.ones(n_samples, np.float32)).shape == (n_frames, 26)


def test_last_window_is_the_rest_zero_padded():
    audio = np.random.default_rng(0).standard_normal(700).astype(np.float32)
    padded = np.concatenate([audio[320:], np.zeros(512 - 380, np.float32)])
    np.testing.assert_allclose(mfcc(audio)[1], mfcc(padded)[0], rtol=1e-6, atol=1e-5)


def test_context_windows_pad_with_zeros():
    features = np.arange(5 * 26, dtype=np.float32).reshape(5, 26) + 1
    windows = context_windows(features)
    assert windows.shape == (5, 19, 26)
    np.testing.assert_array_equal(windows[0, :9], 0)
    np.testing.assert_array_equal(windows[0, 9:14], features)
    np.testing.assert_array_equal(windows[2, 7:12], features)
    np.testing.assert_array_equal(windows[4, 10:], 0)


def test_model_runs_in_blocks_and_carries_the_state(model):
    w, b, u = tiny_weights()
    assert model.n_steps == 16 and model.state_size == 2048
    windows = np.random.default_rng(1).standard_normal((40, 19, 26)).astype(np.float32)
    probabilities = model.probabilities(windows)
    # new_state_c = previous_state_c + 1: block j (steps 16 j …) sees previous_state_c[0, 0] = j
    scores = windows[:, 9] @ w + b + (np.arange(40) // 16)[:, None] * u
    expected = np.exp(scores - scores.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    assert probabilities.shape == (40, 29)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5, atol=1e-6)


def test_a_model_without_deepspeech_tensors_is_refused(require_model):
    with pytest.raises(ValueError, match="not a DeepSpeech acoustic model"):
        DeepSpeechModel(require_model("mediapipe/face_detection_short_range.tflite"))


def one_hot_steps(classes: list[int]) -> np.ndarray:
    out = np.full((len(classes), 29), 0.001, np.float32)
    out[np.arange(len(classes)), classes] = 0.9
    return out


def test_greedy_decoding_keeps_the_start_steps():
    a, b, space = 1, 2, 0
    steps = one_hot_steps([BLANK, a, a, BLANK, a, space, space, b, BLANK])
    assert greedy_tokens(steps) == [Token("a", 1), Token("a", 4), Token(" ", 5), Token("b", 7)]
    assert Token("b", 7).start_s == pytest.approx(0.14)
    assert greedy_tokens(one_hot_steps([BLANK] * 4)) == []


def test_tokens_to_frames():
    tokens = [Token("a", 10), Token(" ", 20), Token("b", 30)]  # 0.2 s, 0.4 s, 0.6 s
    classes = token_classes(tokens, n_frames=25, fps=25.0, audio_seconds=1.0)
    # frame n looks at (n + 5) / 25 s: 0.2 s (a) for n = 0, 0.4 s (space) for n = 5, 0.6 s (b) for
    # n = 10; from 1.0 s (n = 20) on the audio has ended: the last token (b)
    expected = [0] * 5 + [26] * 5 + [1] * 15
    assert classes.tolist() == expected
    later = token_classes([Token("c", 20)], n_frames=8, fps=25.0, audio_seconds=0.3)
    # 'c' starts at 0.4 s: frames 0-2 (0.2, 0.24, 0.28 s) are before it; frame 3 (0.32 s) is past
    # the end of the audio (0.3 s) and takes the last token
    assert later.tolist() == [26, 26, 26, 2, 2, 2, 2, 2]
    assert token_classes([], 3, 25.0, 1.0).tolist() == [26, 26, 26]


def test_step_probabilities_to_frames():
    # step centres 16, 36, 56, 76, 96 ms → frames 0, 0, 1, 1, 2 at 25 fps; frame 3 has none and
    # takes the nearest step (4)
    steps = one_hot_steps([1, 3, 0, 27, BLANK])  # a, c, space, apostrophe, blank
    frames = frame_probabilities(steps, n_frames=4, fps=25.0)
    assert frames.shape == (4, 27)
    np.testing.assert_allclose(frames.sum(axis=1), steps.sum(axis=1)[[0, 2, 4, 4]], rtol=1e-6)
    assert frames[0, 0] == pytest.approx((0.9 + 0.001) / 2) and frames[0, 2] == pytest.approx((0.9 + 0.001) / 2)
    assert frames[1, 26] == pytest.approx(0.9 + 0.001 + 0.001)  # space, apostrophe, blank merged
    np.testing.assert_array_equal(frames[3], frames[2])


def test_window_layout():
    per_frame = np.arange(3)[:, None] * np.ones((1, 27))  # frame t holds t in every class
    out = windowed(per_frame)
    assert out.shape == (3, 216)
    # frame t: frames t-4 … t+3, clamped to 0 … 2, each a block of 27 columns
    assert out.reshape(3, 8, 27)[:, :, 0].tolist() == [
        [0, 0, 0, 0, 0, 1, 2, 2],
        [0, 0, 0, 0, 1, 2, 2, 2],
        [0, 0, 0, 1, 2, 2, 2, 2],
    ]


@pytest.mark.parametrize("mode", ["tokens", "logits"])
def test_features_of_speech(spoken, model, mode):
    features, transcript = deepspeech_features(model, spoken, n_frames=50, fps=25.0, mode=mode)
    assert features.shape == (50, 216) and features.dtype == np.float32
    blocks = features.reshape(50, 8, 27)
    np.testing.assert_allclose(blocks.sum(axis=2), 1.0, rtol=1e-5)
    if mode == "tokens":
        assert set(np.unique(features)) <= {0.0, 1.0}
    np.testing.assert_array_equal(blocks[10, 4], blocks[11, 3])  # frame 10 at t and at t-1 of frame 11
    assert isinstance(transcript, str) and set(transcript) <= set(ds.ALPHABET)
