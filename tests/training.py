"""Training settings for the tests: networks a few channels wide, steps of milliseconds at 32²."""

SMALL_SIZE = 32
"""Side of the test frames: the networks work at any multiple of 4."""

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


def small_settings(**overrides):
    """:data:`SMALL_TRAINING` with ``overrides`` (sections merged key by key), as
    :class:`~headgan_model.train.settings.TrainSettings`."""
    from headgan_model.train.settings import TrainSettings

    values = dict(SMALL_TRAINING)
    for key, value in overrides.items():
        values[key] = {**values[key], **value} if isinstance(value, dict) and key in values else value
    return TrainSettings.from_dict(values)
