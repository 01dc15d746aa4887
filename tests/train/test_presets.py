"""train.preset: paper | official, and each of the official code's training differences on its own."""

import shutil

import pytest
import torch
from tests.training import SMALL_SIZE, small_settings

from headgan_model.train.foreground import FaceParserError, load_face_parser, nmfc_foreground
from headgan_model.train.losses import (
    face_mask,
    feature_matching_layer_weight,
    feature_matching_loss,
    generator_losses,
    masked_l1,
)
from headgan_model.train.schedule import LRSchedule
from headgan_model.train.settings import PRESETS, TrainConfigError, TrainSettings, preset_keys
from headgan_model.train.trainer import Trainer, train

pytestmark = pytest.mark.usefixtures("single_torch_thread")
SIZE = SMALL_SIZE
OFFICIAL_SMALL = {"preset": "official", "flow_mask": {"target": "nmfc"}, "generator": {"width": 4, "spade_hidden": 8}}




def test_the_paper_preset_is_the_defaults_and_official_sets_every_difference():
    assert TrainSettings.from_dict({"preset": "paper"}) == TrainSettings()
    assert sorted(preset_keys(PRESETS["paper"])) == sorted(preset_keys())
    official = TrainSettings.from_dict({"preset": "official"})
    paper = TrainSettings()
    for key in preset_keys():
        get = lambda s: eval("s." + key)  # noqa: E731 - dotted attribute
        assert get(official) != get(paper), key
    assert (official.beta1, official.beta2, official.d_every, official.init) == (0.0, 0.9, 4, "xavier")
    assert official.generator.spade_hidden == 256 and official.mouth_discriminator.n_layers == 4
    # an explicit value beats the preset; null takes it
    mixed = TrainSettings.from_dict({"preset": "official", "d_every": 1, "generator": {"residual": None}})
    assert mixed.d_every == 1 and mixed.generator.residual
    with pytest.raises(TrainConfigError, match="train.preset"):
        TrainSettings.from_dict({"preset": "other"})
    with pytest.raises(TrainConfigError, match="lr_schedule.unit"):
        TrainSettings.from_dict({"lr_schedule": {"unit": "hours"}})


def test_the_official_feature_matching_weighs_each_layer_4_over_n_layers_plus_1():
    fake = [[torch.ones(1, 2, 4, 4), torch.full((1, 2, 4, 4), 3.0), torch.zeros(1, 1, 2, 2)]]
    real = [[torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4), torch.zeros(1, 1, 2, 2)]]
    assert feature_matching_loss(fake, real).item() == pytest.approx(4.0)
    weight = feature_matching_layer_weight("4/(n_layers+1)", 4)
    assert weight == pytest.approx(0.8) and feature_matching_layer_weight("1", 4) == 1.0
    assert feature_matching_loss(fake, real, weight).item() == pytest.approx(3.2)


def test_the_face_region_l1_on_a_known_image():
    nmfc = torch.zeros(1, 3, 8, 8)
    nmfc[:, :, 2:6, 1:5] = 0.5  # a 4 × 4 face: 16 of 64 pixels
    nmfc[:, 0, 0, 0] = 0.005  # below the 0.01 threshold: background
    mask = face_mask(nmfc)
    assert mask.shape == (1, 1, 8, 8) and mask.sum() == 16
    real = torch.zeros(1, 3, 8, 8)
    generated = torch.ones(1, 3, 8, 8)
    assert masked_l1(generated, real, mask).item() == pytest.approx(16 / 64)
    outside = torch.ones(1, 3, 8, 8)
    outside[:, :, 2:6, 1:5] = 0
    assert masked_l1(outside, real, mask).item() == 0
    d = [[torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 1, 1)]]
    terms = generator_losses(
        generated=generated, warped=outside, real=real, d_fake=d, d_real=d, dm_fake=d, dm_real=d, l1_mask=mask
    )
    assert terms["g_l1"].item() == pytest.approx(0.25) and terms["g_l1_warp"].item() == 0
    assert nmfc_foreground(nmfc, torch.zeros(1, 3, 8, 8)).sum() == 16


def test_the_learning_rate_is_constant_then_decays_linearly():
    schedule = LRSchedule(constant=6, decay=4, unit="epochs")
    factors = [schedule.factor(step, steps_per_epoch=10) for step in (0, 59, 60, 70, 80, 95, 100, 130)]
    assert factors == pytest.approx([1, 1, 1, 0.75, 0.5, 0.125, 0, 0])
    assert LRSchedule().factor(10**9) == 1.0
    assert LRSchedule(constant=2, decay=4).factor(3) == pytest.approx(0.75)


def test_the_trainer_sets_the_scheduled_rate_and_updates_d_every_4_steps(index, tmp_path):
    s = small_settings(**OFFICIAL_SMALL, lr_schedule={"constant": 2, "decay": 8, "unit": "steps"}, lr=1e-3)
    trainer = Trainer(s, index, tmp_path / "run")
    batch = next(iter(trainer.loader()))
    rates, d_updates, d_losses = [], [], []
    for _ in range(8):
        before = [p.detach().clone() for p in trainer.networks["discriminator"].parameters()]
        before_m = [p.detach().clone() for p in trainer.networks["mouth_discriminator"].parameters()]
        losses = trainer.train_step(batch)
        rates.append(trainer.optimizers["generator"].param_groups[0]["lr"])
        assert trainer.optimizers["discriminator"].param_groups[0]["lr"] == rates[-1]
        changed = any(not torch.equal(a, b) for a, b in zip(before, trainer.networks["discriminator"].parameters()))
        changed_m = any(not torch.equal(a, b) for a, b in zip(before_m, trainer.networks["mouth_discriminator"].parameters()))
        assert changed == changed_m
        d_updates.append(changed)
        d_losses.append("d_total" in losses)
    assert d_updates == [False, False, False, True, False, False, False, True]
    assert d_losses == d_updates
    assert rates == pytest.approx([1e-3 * f for f in (1, 1, 1, 7 / 8, 6 / 8, 5 / 8, 4 / 8, 3 / 8)])
    assert "g_flow_mask" in losses


@pytest.mark.parametrize("preset", ["paper", "official"])
def test_resume_is_exact_under_both_presets(index, tmp_path, preset):
    overrides = OFFICIAL_SMALL if preset == "official" else {}
    s = small_settings(**overrides, steps=6, checkpoint_every=3, lr_schedule={"constant": 1, "decay": 8, "unit": "steps"})
    uninterrupted = train(s, index, tmp_path / "a", progress=False)
    shutil.copytree(tmp_path / "a" / "checkpoints", tmp_path / "b" / "checkpoints")
    (tmp_path / "b" / "checkpoints" / "step-00000006.pt").unlink()
    resumed = train(s, index, tmp_path / "b", progress=False)
    assert len(resumed) == 3
    for expected, got in zip(uninterrupted[3:], resumed, strict=True):
        assert got.keys() == expected.keys()
        assert got == pytest.approx(expected, rel=1e-6, abs=1e-7)
    if preset == "official":  # D updated at step 4 only of the resumed part
        assert ["d_total" in losses for losses in resumed] == [True, False, False]


def test_the_official_audio_free_generator_has_an_audio_free_mouth_discriminator(index, tmp_path):
    s = small_settings(**{**OFFICIAL_SMALL, "generator": {**OFFICIAL_SMALL["generator"], "use_audio": False}})
    trainer = Trainer(s, index, tmp_path / "run")
    assert trainer.networks["mouth_discriminator"].audio_dim == 0
    assert trainer.networks["mouth_discriminator"].discriminator.scales[0].layers[0][0].in_channels == 3
    losses = trainer.train_step(next(iter(trainer.loader())))
    assert "d_total" not in losses and torch.isfinite(torch.tensor(losses["g_total"]))
    paper = Trainer(small_settings(generator={"use_audio": False}), index, tmp_path / "paper")
    assert paper.networks["mouth_discriminator"].audio_dim == 300


class TinyParser(torch.nn.Module):
    """A 'face parser' of 19 classes: class 1 where the red channel is bright, else background."""

    def forward(self, x):
        foreground = (x[:, :1] > 0).float()
        return (torch.cat([1 - foreground, foreground, torch.zeros_like(x[:, :1]).repeat(1, 17, 1, 1)], dim=1),)


def export(module, path, size=32):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.export.save(torch.export.export(module, (torch.zeros(1, 3, size, size),)), str(path))


def test_the_face_parser_file_gives_the_mask_target(index, tmp_path):
    export(TinyParser(), tmp_path / "models/face_parsing/parser.pt2")
    s = small_settings(**{**OFFICIAL_SMALL, "flow_mask": {"target": "parser", "parser": "face_parsing/parser.pt2", "parser_size": 32}})
    trainer = Trainer(s, index, tmp_path / "run", models_dir=tmp_path / "models")
    images = -torch.ones(2, 3, SIZE, SIZE)
    images[:, 0, :, : SIZE // 2] = 1.0  # left half red: foreground
    mask = trainer.foreground(images)
    assert mask.shape == (2, 1, SIZE, SIZE)
    assert mask[..., : SIZE // 2].min() == 1 and mask[..., SIZE // 2 :].max() == 0
    assert "g_flow_mask" in trainer.train_step(next(iter(trainer.loader())))


def test_a_missing_or_wrong_face_parser_is_a_clear_error(index, tmp_path):
    missing = tmp_path / "models/face_parsing/none.pt2"
    with pytest.raises(FaceParserError, match="none.pt2 missing.*79999_iter.pth.*train.losses.flow_mask: 0"):
        load_face_parser(missing)
    s = small_settings(**{**OFFICIAL_SMALL, "flow_mask": {"target": "parser"}})
    with pytest.raises(FaceParserError, match="bisenet-79999_iter.pt2 missing"):
        Trainer(s, index, tmp_path / "run", models_dir=tmp_path / "models")
    wrong = tmp_path / "wrong.pt2"
    export(torch.nn.Conv2d(3, 1, 1), wrong)
    with pytest.raises(FaceParserError, match="wrong.pt2 is not a face parser of the expected architecture.*flow_mask.target: nmfc"):
        load_face_parser(wrong, 32)
    with pytest.raises(FaceParserError, match="wrong.pt2 fails on a \\(1, 3, 64, 64\\) image"):
        load_face_parser(wrong, 64)  # exported for 32² inputs
    state_dict = tmp_path / "state_dict.pt"
    torch.save({"weight": torch.zeros(1)}, state_dict)
    with pytest.raises(FaceParserError, match="state_dict.pt is not a torch.export face parser"):
        load_face_parser(state_dict, 32)
    # without the mask loss the parser is never needed
    off = small_settings(**{**OFFICIAL_SMALL, "flow_mask": {"target": "parser"}, "losses": {"flow_mask": 0}})
    assert Trainer(off, index, tmp_path / "off", models_dir=tmp_path / "models").foreground is None
