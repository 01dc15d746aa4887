"""Learning-rate schedule: constant, then a linear decay to zero (HeadGAN's official code: 6 + 4 epochs)."""

from __future__ import annotations

from dataclasses import dataclass

UNITS = ("steps", "epochs")


@dataclass(frozen=True)
class LRSchedule:
    """The learning rate as a function of the step: ``lr`` for ``constant`` units, then linearly
    down to 0 over ``decay`` units, 0 after that.

    The paper trains at a constant rate (``decay`` 0, the default); the official code keeps it for
    6 epochs and decays it over 4 (``constant: 6, decay: 4, unit: epochs``).

    Attributes
    ----------
    constant : float
        Units at the full rate (ignored when ``decay`` is 0).
    decay : float
        Units of the linear decay; 0: no decay.
    unit : str
        ``steps`` or ``epochs``: an epoch is the steps in which every training clip is drawn once.
    """

    constant: float = 0.0
    decay: float = 0.0
    unit: str = "steps"

    def __post_init__(self):
        if self.unit not in UNITS:
            raise ValueError(f"train.lr_schedule.unit must be steps or epochs, got {self.unit!r}")
        if self.constant < 0 or self.decay < 0:
            raise ValueError(f"train.lr_schedule.constant and decay must be ≥ 0, got {self.constant}, {self.decay}")

    def factor(self, step: int, steps_per_epoch: float = 1.0) -> float:
        """Multiplier of the base learning rate at 0-based step ``step``, in [0, 1].

        Parameters
        ----------
        step : int
            The step about to be taken (0 for the first).
        steps_per_epoch : float
            Steps per epoch (used when ``unit`` is ``epochs``).
        """
        if self.decay == 0:
            return 1.0
        position = step / steps_per_epoch if self.unit == "epochs" else float(step)
        return min(1.0, max(0.0, 1.0 - (position - self.constant) / self.decay))
