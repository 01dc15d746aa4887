"""Training settings for the tests: networks a few channels wide, steps of milliseconds at 32²."""

SMALL_TRAINING = {
    "steps": 4,
    "batch_size": 2,
    "generator": {"width": 4, "spade_hidden": 8},
    "discriminator": {"width": 8, "n_layers": 2},
    "mouth_discriminator": {"width": 8, "n_layers": 2},
    "vgg": {"enabled": False},
    "workers": 0,
    "checkpoint_every": 2,
    "log_every": 1,
    "sample_every": 2,
    "sample_rows": 2,
    "mouth_size": 16,
}
"""The ``train:`` section of a small run (32² test stores: 16-pixel mouth crops)."""
