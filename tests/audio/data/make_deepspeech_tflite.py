"""Write ``deepspeech_tiny.tflite``: a tiny model with the interface of the DeepSpeech 0.9.3 release
``.tflite`` acoustic model, for the tests.

Interface (tensor names, shapes, float32), as DeepSpeech's ``export`` writes it with ``n_steps`` 16:

* inputs ``input_node`` (1, 16, 19, 26) MFCC context windows, ``previous_state_c`` and
  ``previous_state_h`` (1, 2048) LSTM state, ``input_samples`` (512,) one 32 ms audio window;
* outputs ``logits`` (16, 29) per-step softmax over ``" abcdefghijklmnopqrstuvwxyz'"`` + CTC blank,
  ``new_state_c``, ``new_state_h`` (1, 2048), ``mfccs`` (1, 26) the MFCCs of ``input_samples``
  computed with TensorFlow's AudioSpectrogram (window 512, stride 320, squared magnitude) and Mfcc
  (16 kHz, 40 channels, 20–8000 Hz, 26 coefficients) kernels, as in the release model.

Instead of the acoustic network: ``logits[k] = softmax(centre[k] @ W + b + previous_state_c[0, 0] · u)``
with ``centre[k] = input_node[0, k, 9]`` (the step's own MFCC frame), ``new_state_c = previous_state_c + 1``
and ``new_state_h = previous_state_h + mean(centre)``; ``W, b, u`` come from :func:`weights`.

Needs TensorFlow (not a dependency of the pipeline; the committed file was written with
tensorflow-cpu 2.21); run it in a separate environment:

    python -m venv /tmp/tf && /tmp/tf/bin/pip install tensorflow-cpu
    /tmp/tf/bin/python tests/audio/data/make_deepspeech_tflite.py tests/audio/data/deepspeech_tiny.tflite
"""

import sys

import numpy as np

N_STEPS, N_CONTEXT, N_INPUT, N_CELL, N_CLASSES, WINDOW = 16, 9, 26, 2048, 29, 512


def weights() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``W`` (26, 29), ``b`` (29,) and ``u`` (29,), float32: MFCC frame → class scores; ``b``
    favours the blank (last class)."""
    rng = np.random.default_rng(0)
    w = (0.05 * rng.standard_normal((N_INPUT, N_CLASSES))).astype(np.float32)
    b = np.zeros(N_CLASSES, np.float32)
    b[-1] = 1.0
    u = (0.01 * rng.standard_normal(N_CLASSES)).astype(np.float32)
    return w, b, u


def main(out: str) -> None:
    import tensorflow as tf

    tf1 = tf.compat.v1
    tf1.disable_eager_execution()
    w, b, u = weights()
    with tf1.Session() as session:
        input_samples = tf1.placeholder(tf.float32, [WINDOW], "input_samples")
        spectrogram = tf.raw_ops.AudioSpectrogram(
            input=tf.expand_dims(input_samples, -1), window_size=WINDOW, stride=320, magnitude_squared=True
        )
        mfccs = tf.raw_ops.Mfcc(
            spectrogram=spectrogram,
            sample_rate=tf.constant(16000, tf.int32),
            upper_frequency_limit=8000.0,
            lower_frequency_limit=20.0,
            filterbank_channel_count=40,
            dct_coefficient_count=N_INPUT,
        )
        mfccs = tf.identity(tf.reshape(mfccs, [-1, N_INPUT]), name="mfccs")
        input_node = tf1.placeholder(tf.float32, [1, N_STEPS, 2 * N_CONTEXT + 1, N_INPUT], "input_node")
        previous_c = tf1.placeholder(tf.float32, [1, N_CELL], "previous_state_c")
        previous_h = tf1.placeholder(tf.float32, [1, N_CELL], "previous_state_h")
        centre = input_node[0, :, N_CONTEXT, :]
        scores = tf.matmul(centre, w) + b + previous_c[0, 0] * u
        logits = tf.nn.softmax(scores, name="logits")
        new_c = tf.identity(previous_c + 1.0, name="new_state_c")
        new_h = tf.identity(previous_h + tf.reduce_mean(centre), name="new_state_h")
        converter = tf1.lite.TFLiteConverter.from_session(
            session, [input_node, previous_c, previous_h, input_samples], [logits, new_c, new_h, mfccs]
        )
        converter.allow_custom_ops = True
        with open(out, "wb") as handle:
            handle.write(converter.convert())


if __name__ == "__main__":
    main(sys.argv[1])
