"""Training: one step updates every network, overfitting, exact resume, variants, outputs, DDP."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.training import SMALL_SIZE, small_settings

from headgan_model.cli import main as train_main
from headgan_model.train.settings import TrainConfigError
from headgan_model.train.trainer import Trainer, checkpoints, train
from headgan_model.networks.vgg import VGGWeightsMissing, vgg19_feature_layers
from headgan_prep.dataset.index import build_index, write_index

SIZE = SMALL_SIZE

pytestmark = pytest.mark.usefixtures("single_torch_thread")




def first_batch(trainer: Trainer) -> dict:
    return next(iter(trainer.loader()))


def parameters(trainer: Trainer) -> dict[str, list[torch.Tensor]]:
    return {name: [p.detach().clone() for p in net.parameters()] for name, net in trainer.networks.items()}


def test_training_steps_update_the_generator_and_both_discriminators(index, tmp_path):
    trainer = Trainer(small_settings(), index, tmp_path / "run")
    before = parameters(trainer)
    batch = first_batch(trainer)
    losses = trainer.train_step(batch)
    after = parameters(trainer)
    for name in ("discriminator", "mouth_discriminator"):
        changed = sum(not torch.equal(a, b) for a, b in zip(before[name], after[name]))
        assert changed == len(before[name]), f"{name}: {changed} of {len(before[name])} tensors changed"
    # F's flow conv starts at zero, so F's decoder gets its first gradient in the second step
    trainer.train_step(batch)
    after = parameters(trainer)
    changed = sum(not torch.equal(a, b) for a, b in zip(before["generator"], after["generator"]))
    assert changed == len(before["generator"]), f"generator: {changed} of {len(before['generator'])} tensors changed"
    expected = {"g_adv", "g_mouth_adv", "g_l1", "g_feat", "g_feat_mouth", "g_l1_warp", "g_total"}
    assert expected | {"d_image", "d_mouth", "d_total"} == set(losses)
    assert losses["d_total"] == pytest.approx(losses["d_image"] + losses["d_mouth"], rel=1e-5)
    assert trainer.step == 2


def test_overfitting_one_batch_halves_the_l1_loss(index, tmp_path):
    trainer = Trainer(small_settings(generator={"width": 8, "spade_hidden": 16}, lr=1e-3), index, tmp_path / "run")
    batch = first_batch(trainer)
    l1 = [trainer.train_step(batch)["g_l1"] for _ in range(250)]
    assert min(l1[-10:]) < 0.5 * l1[0], (l1[0], l1[-10:])


def test_resuming_from_a_checkpoint_gives_the_same_next_losses(index, tmp_path):
    settings = small_settings(steps=4)
    uninterrupted = train(settings, index, tmp_path / "a", progress=False)
    assert [p.name for p in checkpoints(tmp_path / "a")] == ["step-00000002.pt", "step-00000004.pt"]
    shutil.copytree(tmp_path / "a" / "checkpoints", tmp_path / "b" / "checkpoints")
    (tmp_path / "b" / "checkpoints" / "step-00000004.pt").unlink()
    resumed = train(settings, index, tmp_path / "b", progress=False)
    assert len(resumed) == 2
    for expected, got in zip(uninterrupted[2:], resumed):
        assert got == pytest.approx(expected, rel=1e-6, abs=1e-7)
    # the losses file holds the whole run once, steps 1-4
    rows = (tmp_path / "b" / "losses.tsv").read_text().splitlines()
    assert [row.split("\t")[0] for row in rows[1:]] == ["3", "4"]
    longer = train(small_settings(steps=5, keep_checkpoints=1), index, tmp_path / "a", progress=False)
    assert len(longer) == 1 and [p.name for p in checkpoints(tmp_path / "a")] == ["step-00000005.pt"]


def test_a_checkpoint_of_other_networks_is_not_resumed(index, tmp_path):
    train(small_settings(steps=2), index, tmp_path / "run", progress=False)
    with pytest.raises(TrainConfigError, match="other network settings"):
        Trainer(small_settings(generator={"width": 8}), index, tmp_path / "run")


@pytest.mark.parametrize("generator", [{"use_audio": False}, {"use_flow": False}])
def test_the_audio_free_and_flow_free_variants_train(index, tmp_path, generator):
    trainer = Trainer(small_settings(generator=generator), index, tmp_path / "run")
    losses = trainer.train_step(first_batch(trainer))
    assert ("g_l1_warp" in losses) == generator.get("use_flow", True)
    assert torch.isfinite(torch.tensor(list(losses.values()))).all()
    grid = trainer.samples()
    assert grid.shape == (2 * SIZE, 6 * SIZE, 3)


def test_a_missing_vgg_file_is_a_clear_error(index, tmp_path, capsys):
    settings = small_settings(vgg={"enabled": True})
    with pytest.raises(VGGWeightsMissing, match="vgg19-dcbbe1ae.pth.*download.pytorch.org"):
        Trainer(settings, index, tmp_path / "run", models_dir=tmp_path / "models")
    args = ["--index", str(index), "--out", str(tmp_path / "run"), "--models-dir", str(tmp_path / "models")]
    assert train_main([*args, "--settings", '{"vgg": {"enabled": true}}']) == 2
    assert "train.vgg.enabled: false" in capsys.readouterr().err


def test_an_empty_or_missing_index_is_a_clear_error(index, tmp_path, capsys):
    empty = tmp_path / "results/dataset/train.json"
    write_index(build_index(tmp_path / "results", "train")[0], empty)
    with pytest.raises(TrainConfigError, match="no clip to train on"):
        Trainer(small_settings(), empty, tmp_path / "run")
    args = ["--out", str(tmp_path / "run"), "--settings", json.dumps(small_settings().to_dict())]
    assert train_main(["--index", str(tmp_path / "missing.json"), *args]) == 2
    assert "dataset index missing" in capsys.readouterr().err


def test_the_vgg_terms_use_the_weights_file(index, tmp_path):
    layers = vgg19_feature_layers()
    path = tmp_path / "models/torchvision/vgg19-dcbbe1ae.pth"
    path.parent.mkdir(parents=True)
    torch.save({f"features.{k}": v for k, v in layers.state_dict().items()}, path)
    trainer = Trainer(small_settings(vgg={"enabled": True}), index, tmp_path / "run", models_dir=tmp_path / "models")
    losses = trainer.train_step(first_batch(trainer))
    assert losses["g_vgg"] > 0 and losses["g_vgg_warp"] > 0


def test_a_run_writes_checkpoints_logs_and_pictures(index, tmp_path):
    out = tmp_path / "run"
    assert train_main(["--index", str(index), "--out", str(out), "--no-progress", "--settings", json.dumps(small_settings().to_dict())]) == 0
    assert {p.name for p in out.iterdir()} >= {"generator.pt", "samples.png", "loss_curves.png", "losses.tsv", "tensorboard"}
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step-00000002.png", "step-00000004.png"]
    assert any(p.name.startswith("events.out.tfevents") for p in (out / "tensorboard").iterdir())
    saved = torch.load(out / "generator.pt", weights_only=False)
    assert saved["step"] == 4 and saved["generator_config"]["width"] == 4
    from headgan_model.networks.generator import Generator, GeneratorConfig

    Generator(GeneratorConfig(**saved["generator_config"])).load_state_dict(saved["generator"])
    assert not list(out.rglob(".*tmp*"))


def test_two_processes_train_with_ddp(index, tmp_path):
    """torchrun on the CPU (gloo): each rank draws its own part of the stream, the weights stay equal."""
    settings = small_settings(steps=2, batch_size=1)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "headgan_model.cli"]
    cmd += ["--index", str(index), "--out", str(tmp_path / "run"), "--no-progress", "--settings", json.dumps(settings.to_dict())]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 process(es)" in result.stderr
    assert [p.name for p in checkpoints(tmp_path / "run")] == ["step-00000002.pt"]
    assert Path(tmp_path / "run" / "generator.pt").is_file()


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
def test_mixed_precision_steps_run(index, tmp_path, dtype):
    """The autocast path of GPU training, run under CPU autocast (fp16 with the loss scaler)."""
    trainer = Trainer(small_settings(), index, tmp_path / "run")
    trainer.autocast_dtype = dtype
    trainer.scaler = torch.amp.GradScaler("cpu", enabled=dtype == torch.float16)
    batch = first_batch(trainer)
    for _ in range(2):
        losses = trainer.train_step(batch)
    assert all(np.isfinite(value) for value in losses.values())
    assert trainer.samples().dtype == np.uint8
