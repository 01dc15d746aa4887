"""Training HeadGAN on self-reenactment (paper §4.1, supplement §2).

One step: the generator G renders frame t of a clip from x_{t−2:t}, a reference frame of the same
clip and the audio features; G is updated on Eq. 6 (hinge adversarial through D and D_m, L1 and
VGG on the generated and on the warped frame, feature matching through both discriminators), then
D and D_m on their hinge losses (Eq. 7). Adam (lr 2e-4, β = (0.5, 0.999)) for all three. The
``official`` preset (:data:`headgan_model.train.settings.PRESETS`) follows HeadGAN's official code
instead where it differs: D and D_m updated every ``d_every`` generator steps, the learning rate
decayed, F's flow mask trained against a foreground mask, L1 on the face region, and more.

A run lives in ``{out}/`` (``results/train/{run}/``)::

    checkpoints/step-{step:08d}.pt   everything needed to continue exactly (the newest few kept)
    tensorboard/                     scalars every log_every steps, sample grids every sample_every
    samples/step-{step:08d}.png      sample grids: reference | driving NMFC | flow | warped | generated | real
    losses.tsv                       step and every loss term, averaged over the log_every steps before it
    loss_curves.png                  the losses.tsv curves
    generator.pt                     the final generator: settings, stand-ins and weights (what inference loads)
    samples.png                      the final sample grid

Starting a run whose folder holds checkpoints continues from the newest one: the sample stream is
a function of (seed, step) (:class:`headgan_model.train.data.TrainingSampler`) and the checkpoint holds
the networks, the optimisers and the loss scaler, so the next step's losses are those of an
uninterrupted run. Under ``torchrun`` every process trains on its own part of the stream (DDP);
process 0 writes the outputs.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from headgan_model.train.data import SelfReenactmentDataset, TrainingSampler, normalize_batch
from headgan_model.networks.discriminator import ImageDiscriminator, MouthDiscriminator
from headgan_model.networks.generator import Generator
from headgan_model.networks.init import xavier_init
from headgan_model.train.foreground import ParserForeground, load_face_parser, nmfc_foreground, union
from headgan_model.train.losses import (
    crop_mouths,
    discriminator_losses,
    face_mask,
    feature_matching_layer_weight,
    generator_losses,
)
from headgan_model.train.settings import TrainConfigError, TrainSettings
from headgan_model.train.standins import find_stand_ins
from headgan_model.networks.summary import count_parameters
from headgan_model.networks.vgg import VGGLoss, load_vgg19
from headgan_model.train.visualize import plot_losses, sample_grid
from headgan_prep.store.atomic import atomic_file
from headgan_prep.preview import write_png

log = logging.getLogger(__name__)

CHECKPOINT_SCHEMA = "headgan.checkpoint/1"
GENERATOR_SCHEMA = "headgan.generator/1"


def atomic_save(obj: object, path: Path) -> None:
    """``torch.save`` to a hidden temporary sibling, renamed into place when complete."""
    with atomic_file(path, "wb") as handle:
        torch.save(obj, handle)


def checkpoints(out: Path) -> list[Path]:
    """The run's checkpoints, oldest first."""
    return sorted((Path(out) / "checkpoints").glob("step-*.pt"))


def _unwrap(module: nn.Module) -> nn.Module:
    """The network inside DDP and ``torch.compile`` wrappers."""
    module = getattr(module, "_orig_mod", module)
    return module.module if isinstance(module, DistributedDataParallel) else module


def _split(outputs: list[list[torch.Tensor]], n: int) -> tuple[list[list[torch.Tensor]], list[list[torch.Tensor]]]:
    """Discriminator outputs of a batch ``cat([a, b])`` → the outputs of ``a`` (first n) and of ``b``."""
    return [[f[:n] for f in scale] for scale in outputs], [[f[n:] for f in scale] for scale in outputs]


class Trainer:
    """The networks, optimisers and data of one training run.

    Parameters
    ----------
    settings : TrainSettings
    index_path : Path
        Dataset index of the training split, ``results/dataset/train.json``.
    out : Path
        The run's folder, ``results/train/{run}``.
    models_dir : Path
        Where ``settings.vgg.weights`` is looked up when relative.

    Raises
    ------
    headgan_model.networks.vgg.VGGWeightsMissing
        The VGG19 file is missing while ``vgg.enabled``.
    TrainConfigError
        The newest checkpoint was trained with other network sizes, CUDA was asked for and is not
        there, or the index lists no clip.
    headgan_prep.dataset.reader.DatasetReaderError
        The index is missing or not a dataset index.
    """

    def __init__(self, settings: TrainSettings, index_path: Path, out: Path, models_dir: Path = Path("models")):
        self.settings = settings
        self.out = Path(out)
        self.rank = int(os.environ.get("RANK", 0))
        self.world_size = int(os.environ.get("WORLD_SIZE", 1))
        self.device = self._device()
        if self.world_size > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        self.autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(settings.precision)
        if self.device.type != "cuda" and self.autocast_dtype is not None:
            log.info("precision %s applies on a GPU; training in fp32 on %s", settings.precision, self.device)
            self.autocast_dtype = None

        torch.manual_seed(settings.seed)
        self.generator = Generator(settings.generator).to(self.device)
        self.discriminator = ImageDiscriminator(settings.discriminator).to(self.device)
        self.mouth_discriminator = MouthDiscriminator(settings.mouth_discriminator, settings.mouth_audio_dim).to(
            self.device
        )
        if settings.init == "xavier":
            for network in (self.generator, self.discriminator, self.mouth_discriminator):
                xavier_init(network, settings.init_gain)
        self.vgg_loss = self._vgg_loss(Path(models_dir))
        self.foreground = self._foreground(Path(models_dir))
        betas = (settings.beta1, settings.beta2)
        self.optimizers = {
            "generator": torch.optim.Adam(self.generator.parameters(), lr=settings.lr, betas=betas),
            "discriminator": torch.optim.Adam(self.discriminator.parameters(), lr=settings.lr, betas=betas),
            "mouth_discriminator": torch.optim.Adam(self.mouth_discriminator.parameters(), lr=settings.lr, betas=betas),
        }
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.autocast_dtype == torch.float16)
        self.step = 0
        self._resume()

        self.dataset = SelfReenactmentDataset(index_path, as_uint8=True, condition=settings.generator.condition)
        if len(self.dataset) == 0:
            raise TrainConfigError(f"{index_path} lists no clip to train on")
        self.stand_ins = find_stand_ins(self.dataset.reader)
        self.sampler = TrainingSampler(self.dataset, settings.batch_size, settings.seed, 0, self.rank, self.world_size)
        self.steps_per_epoch = math.ceil(len(self.sampler.clips) / (settings.batch_size * self.world_size))
        if self.world_size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.generator, self.discriminator, self.mouth_discriminator = (
                DistributedDataParallel(net, device_ids=ids)
                for net in (self.generator, self.discriminator, self.mouth_discriminator)
            )
        if settings.compile:
            self.generator, self.discriminator, self.mouth_discriminator = (
                torch.compile(net) for net in (self.generator, self.discriminator, self.mouth_discriminator)
            )

    def _device(self) -> torch.device:
        wanted = self.settings.device
        if wanted == "cuda" and not torch.cuda.is_available():
            raise TrainConfigError("train.device is cuda but PyTorch sees no CUDA device")
        if wanted == "cpu" or not torch.cuda.is_available():
            return torch.device("cpu")
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)

    def _vgg_loss(self, models_dir: Path) -> VGGLoss | None:
        vgg = self.settings.vgg
        if not vgg.enabled:
            log.warning("train.vgg.enabled is false: training WITHOUT the VGG perceptual loss (the paper uses it)")
            return None
        path = Path(vgg.weights) if Path(vgg.weights).is_absolute() else models_dir / vgg.weights
        return VGGLoss(load_vgg19(path, imagenet_input=vgg.input == "imagenet")).to(self.device)

    def _foreground(self, models_dir: Path) -> ParserForeground | str | None:
        """The flow mask's target: a face parser, ``"nmfc"``, or None (no mask loss)."""
        s = self.settings
        if not (s.generator.use_flow and s.generator.flow_mask and s.losses.flow_mask > 0):
            return None
        if s.flow_mask.target == "nmfc":
            return "nmfc"
        path = Path(s.flow_mask.parser)
        path = path if path.is_absolute() else models_dir / path
        return ParserForeground(load_face_parser(path, s.flow_mask.parser_size), s.flow_mask.parser_size).to(self.device)

    def flow_mask_target(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """``(B, 1, H, W)`` foreground of the target and reference frames (their union), or None."""
        if self.foreground is None:
            return None
        if self.foreground == "nmfc":
            return nmfc_foreground(batch["nmfc"][:, -3:], batch["ref_nmfc"])
        return union(self.foreground(batch["image"]), self.foreground(batch["ref_image"]))

    def learning_rate(self, step: int) -> float:
        """Learning rate of all three optimisers at 0-based step ``step``."""
        return self.settings.lr * self.settings.lr_schedule.factor(step, self.steps_per_epoch)

    @property
    def networks(self) -> dict[str, nn.Module]:
        """The three networks by name (unwrapped)."""
        return {
            "generator": _unwrap(self.generator),
            "discriminator": _unwrap(self.discriminator),
            "mouth_discriminator": _unwrap(self.mouth_discriminator),
        }

    def _resume(self) -> None:
        found = checkpoints(self.out)
        if not found:
            return
        state = torch.load(found[-1], map_location=self.device, weights_only=True)
        if state["architecture"] != self.settings.architecture():
            raise TrainConfigError(
                f"{found[-1]} was trained with other network settings ({state['architecture']}); "
                f"use another train.run name or remove {self.out}"
            )
        for name, network in self.networks.items():
            network.load_state_dict(state[name])
            self.optimizers[name].load_state_dict(state["optimizers"][name])
        self.scaler.load_state_dict(state["scaler"])
        self.step = state["step"]
        log.info("resumed %s at step %d", found[-1], self.step)

    def save_checkpoint(self) -> Path:
        """Write ``checkpoints/step-{step}.pt`` and remove all but the newest ``keep_checkpoints``."""
        path = self.out / "checkpoints" / f"step-{self.step:08d}.pt"
        state = {name: network.state_dict() for name, network in self.networks.items()}
        state |= {
            "schema": CHECKPOINT_SCHEMA,
            "step": self.step,
            "settings": self.settings.to_dict(),
            "architecture": self.settings.architecture(),
            "stand_ins": self.stand_ins,
            "optimizers": {name: optimizer.state_dict() for name, optimizer in self.optimizers.items()},
            "scaler": self.scaler.state_dict(),
        }
        atomic_save(state, path)
        for old in checkpoints(self.out)[: -self.settings.keep_checkpoints]:
            old.unlink()
        return path

    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def _no_sync(self, *modules: nn.Module):
        """Skip DDP's gradient all-reduce of ``modules`` (their gradients of the G step are thrown away)."""
        stack = contextlib.ExitStack()
        for module in modules:
            inner = getattr(module, "_orig_mod", module)
            if isinstance(inner, DistributedDataParallel):
                stack.enter_context(inner.no_sync())
        return stack

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One G update on ``batch`` (a DataLoader batch) and, every ``d_every`` steps, one D and
        D_m update; returns the losses (the ``d_*`` terms on the steps that update D)."""
        s = self.settings
        for optimizer in self.optimizers.values():
            for group in optimizer.param_groups:
                group["lr"] = self.learning_rate(self.step)
        batch = normalize_batch({k: v.to(self.device, non_blocking=True) for k, v in batch.items()})
        real, nmfc_t, audio = batch["image"], batch["nmfc"][:, -3:], batch["audio"]
        n = len(real)
        mouth_real = crop_mouths(real, batch["mouth_box"], s.mouth_size)
        nmfc_pair = torch.cat([nmfc_t, nmfc_t])
        audio_pair = torch.cat([audio, audio]) if s.mouth_audio_dim else None
        fm_weights = tuple(
            feature_matching_layer_weight(s.losses.fm_layer_weight, config.n_layers)
            for config in (s.discriminator, s.mouth_discriminator)
        )
        mask_target = self.flow_mask_target(batch)

        with self._no_sync(self.discriminator, self.mouth_discriminator):
            with self._autocast():
                out = self.generator(
                    batch["nmfc"], batch["ref_image"], batch["ref_nmfc"], audio if s.generator.use_audio else None
                )
                fake = out["image"]
                mouth_fake = crop_mouths(fake, batch["mouth_box"], s.mouth_size)
                d_fake, d_real = _split(self.discriminator(nmfc_pair, torch.cat([fake, real])), n)
                dm_fake, dm_real = _split(self.mouth_discriminator(torch.cat([mouth_fake, mouth_real]), audio_pair), n)
                g = generator_losses(
                    generated=fake.float(),
                    real=real,
                    d_fake=d_fake,
                    d_real=d_real,
                    dm_fake=dm_fake,
                    dm_real=dm_real,
                    weights=s.losses,
                    warped=None if out["warped"] is None else out["warped"].float(),
                    vgg_loss=self.vgg_loss,
                    l1_mask=face_mask(nmfc_t) if s.losses.l1_region == "face" else None,
                    fm_layer_weights=fm_weights,
                    flow_mask=None if out["mask"] is None else out["mask"].float(),
                    flow_mask_target=mask_target,
                )
            self.optimizers["generator"].zero_grad(set_to_none=True)
            self.scaler.scale(g["g_total"]).backward()
        self.scaler.step(self.optimizers["generator"])

        d = {}
        if (self.step + 1) % s.d_every == 0:
            fake, mouth_fake = fake.detach(), mouth_fake.detach()
            with self._autocast():
                d_fake, d_real = _split(self.discriminator(nmfc_pair, torch.cat([fake, real])), n)
                dm_fake, dm_real = _split(self.mouth_discriminator(torch.cat([mouth_fake, mouth_real]), audio_pair), n)
                d = discriminator_losses(d_real=d_real, d_fake=d_fake, dm_real=dm_real, dm_fake=dm_fake)
            self.optimizers["discriminator"].zero_grad(set_to_none=True)
            self.optimizers["mouth_discriminator"].zero_grad(set_to_none=True)
            self.scaler.scale(d["d_total"]).backward()
            self.scaler.step(self.optimizers["discriminator"])
            self.scaler.step(self.optimizers["mouth_discriminator"])
        self.scaler.update()
        self.step += 1
        return {name: float(value.detach()) for name, value in (g | d).items()}

    def loader(self) -> DataLoader:
        """The training DataLoader, continuing the sample stream at the current step."""
        s = self.settings
        self.sampler.start_step = self.step
        return DataLoader(
            self.dataset,
            batch_size=s.batch_size,
            sampler=self.sampler,
            num_workers=s.workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=s.workers > 0,
            prefetch_factor=4 if s.workers > 0 else None,
        )

    def sample_keys(self) -> list[tuple[int, int, int]]:
        """``sample_rows`` fixed ``(clip, frame, reference)`` keys of valid frames: clips spread over
        the training clips, each at its middle usable frame, with the valid frame nearest the
        clip's middle (other than that frame) as reference."""
        keys = []
        positions = np.linspace(0, len(self.sampler.clips) - 1, self.settings.sample_rows).round().astype(int)
        for clip in self.sampler.clips[positions]:
            starts, valid = self.dataset.training_frames(int(clip))
            frame = int(starts[len(starts) // 2])
            others = valid[(valid < frame) | (valid >= frame + self.dataset.length)]
            reference = int(others[np.argmin(np.abs(others - self.dataset.n_frames[clip] // 2))])
            keys.append((int(clip), frame, reference))
        return keys

    @torch.no_grad()
    def samples(self) -> np.ndarray:
        """Sample grid (:func:`headgan_model.train.visualize.sample_grid`) of the :meth:`sample_keys`."""
        batch = torch.utils.data.default_collate([self.dataset[key] for key in self.sample_keys()])
        batch = normalize_batch({k: v.to(self.device) for k, v in batch.items()})
        generator = self.networks["generator"]
        generator.eval()
        with self._autocast():
            audio = batch["audio"] if self.settings.generator.use_audio else None
            out = generator(batch["nmfc"], batch["ref_image"], batch["ref_nmfc"], audio)
        generator.train()

        def numpy(x):
            return None if x is None else x.float().cpu().numpy()

        return sample_grid(
            numpy(batch["ref_image"]),
            numpy(batch["nmfc"][:, -3:]),
            numpy(out["image"]),
            numpy(batch["image"]),
            numpy(out["flow"]),
            numpy(out["warped"]),
        )

    def save_generator(self) -> Path:
        """Write ``generator.pt``: the generator's settings, step and weights (for inference)."""
        path = self.out / "generator.pt"
        state = {
            "schema": GENERATOR_SCHEMA,
            "step": self.step,
            "generator_config": self.settings.to_dict()["generator"],
            "stand_ins": self.stand_ins,
            "generator": self.networks["generator"].state_dict(),
        }
        atomic_save(state, path)
        return path

    def describe(self) -> str:
        """Parameter counts and the set-up, one line."""
        counts = ", ".join(f"{name} {count_parameters(net) / 1e6:.2f} M" for name, net in self.networks.items())
        return (
            f"{counts} parameters; {len(self.dataset.reader)} clips, {len(self.dataset)} frames; device {self.device}, "
            f"{self.world_size} process(es), precision {'fp32' if self.autocast_dtype is None else self.settings.precision}"
        )


class RunLog:
    """What process 0 writes while training: TensorBoard, ``losses.tsv``, sample PNGs and curves."""

    def __init__(self, out: Path, resume_step: int):
        from torch.utils.tensorboard import SummaryWriter

        self.out = Path(out)
        (self.out / "samples").mkdir(parents=True, exist_ok=True)
        self.tsv = self.out / "losses.tsv"
        self.rows = self._read_rows(resume_step)
        self.writer = SummaryWriter(str(self.out / "tensorboard"), purge_step=resume_step + 1 if resume_step else None)

    def _read_rows(self, resume_step: int) -> list[dict[str, float]]:
        """The rows of an earlier part of the run, up to the step it resumes from."""
        if not self.tsv.is_file():
            return []
        with self.tsv.open(newline="") as handle:
            rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle, delimiter="\t")]
        return [row for row in rows if row["step"] <= resume_step]

    def stand_ins(self, step: int, stand_ins: list[str]) -> None:
        """The run's stand-ins (:func:`headgan_model.train.standins.find_stand_ins`) as TensorBoard text."""
        text = "\n".join(f"- {line}" for line in stand_ins) or "none: the paper's inputs"
        self.writer.add_text("run/stand_ins", text, step)

    def scalars(self, step: int, losses: dict[str, float], samples_per_s: float) -> None:
        for name, value in losses.items():
            self.writer.add_scalar(f"loss/{name}", value, step)
        self.writer.add_scalar("speed/samples_per_s", samples_per_s, step)
        self.rows.append({"step": float(step), **losses})
        names = ["step", *sorted({k for row in self.rows for k in row} - {"step"})]
        with atomic_file(self.tsv, "w", newline="") as handle:
            writer = csv.DictWriter(handle, names, delimiter="\t", restval="")
            writer.writeheader()
            writer.writerows({k: (int(v) if k == "step" else f"{v:.6g}") for k, v in row.items()} for row in self.rows)

    def grid(self, step: int, grid: np.ndarray) -> Path:
        self.writer.add_image("samples", grid, step, dataformats="HWC")
        path = self.out / "samples" / f"step-{step:08d}.png"
        write_png(grid, path)
        return path

    def curves(self) -> None:
        names = sorted({k for row in self.rows for k in row} - {"step"})
        steps = np.array([row["step"] for row in self.rows])
        series = {n: np.array([row.get(n, np.nan) for row in self.rows]) for n in names}
        plot_losses(steps, series, self.out / "loss_curves.png")

    def close(self) -> None:
        self.writer.close()


def train(settings: TrainSettings, index_path: Path, out: Path, models_dir: Path = Path("models"), progress: bool = True) -> list[dict[str, float]]:
    """Train (or continue training) a run up to ``settings.steps`` steps.

    Returns the losses of every step this call trained (process 0's view), in order.
    """
    trainer = Trainer(settings, index_path, out, models_dir)
    main = trainer.rank == 0
    run_log = RunLog(out, trainer.step) if main else None
    if main:
        log.info("%s", trainer.describe())
        for stand_in in trainer.stand_ins:
            log.warning("training on a stand-in: %s", stand_in)
        run_log.stand_ins(trainer.step, trainer.stand_ins)
    history = []
    if trainer.step < settings.steps:
        bar = tqdm(total=settings.steps, initial=trainer.step, disable=not (main and progress), unit="step")
        last_time, last_step = time.perf_counter(), trainer.step
        for batch in trainer.loader():
            losses = trainer.train_step(batch)
            history.append(losses)
            bar.update(1)
            bar.set_postfix(g=f"{losses['g_total']:.3f}", d=f"{losses.get('d_total', float('nan')):.3f}")
            step = trainer.step
            if main and (step % settings.log_every == 0 or step == settings.steps):
                now = time.perf_counter()
                rate = (step - last_step) * settings.batch_size * trainer.world_size / max(now - last_time, 1e-9)
                interval = history[-(step - last_step) :]
                names = sorted({name for h in interval for name in h})
                # D's terms exist on the steps that update D only (train.d_every)
                values = {name: [h[name] for h in interval if name in h] for name in names}
                means = {name: sum(v) / len(v) for name, v in values.items()}
                run_log.scalars(step, means, rate)
                last_time, last_step = now, step
            if main and step % settings.sample_every == 0:
                run_log.grid(step, trainer.samples())
            if main and (step % settings.checkpoint_every == 0 or step == settings.steps):
                trainer.save_checkpoint()
                run_log.curves()
            if step >= settings.steps:
                break
        bar.close()
    if main:
        grid = trainer.samples()
        run_log.grid(trainer.step, grid)
        write_png(grid, trainer.out / "samples.png")
        run_log.curves()
        run_log.close()
        trainer.save_generator()
    if trainer.world_size > 1:
        dist.barrier()
    return history
