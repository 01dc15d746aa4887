"""``headgan-prep check``: validate the stores of a results folder against their layout.

For every shard with a store of any stage (:data:`headgan_prep.store.layout.STAGES`):

* every stage has a finished store: ``zarr.json`` present, no ``.{name}.tmp-*`` sibling left by an
  interrupted write, root attribute ``schema`` as the stage writes it;
* every clip group has ``zarr.json`` and the stage's arrays with their dtypes and shapes, named
  dimensions agreeing within the clip;
* arrays that must not hold NaN hold none (audio features, landmark points, the crop audio);
* a clip's frame count is the same in every stage that has it.

Each problem is one :class:`Problem`, naming the store, clip and array. The report also summarises
the fit's expression error per split (:class:`ExpressionSummary`, :mod:`headgan_prep.fit.expression`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import zarr

from headgan_prep.store.layout import STAGES, ArraySpec, Stage, shard_split, shards
from headgan_prep.store.layout import stage as stage_named


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a store.

    Attributes
    ----------
    store : Path
    clip_id, array : str
        Empty when the problem concerns the whole store or clip.
    message : str
    """

    store: Path
    clip_id: str
    array: str
    message: str

    def __str__(self) -> str:
        where = "/".join(part for part in (str(self.store), self.clip_id, self.array) if part)
        return f"{where}: {self.message}"


@dataclass
class StageSummary:
    """Counts of one stage over the checked shards."""

    shards: int = 0
    clips: int = 0
    frames: int = 0
    problems: int = 0


@dataclass
class ExpressionSummary:
    """The fit's per-frame expression error over one split's fit stores.

    Attributes
    ----------
    clips : int
        Clips with at least one measured frame.
    errors : list of np.ndarray
        Per clip, the finite per-frame errors.
    worst_clip : str
        Clip with the largest mean error.
    worst_mean : float
    """

    clips: int = 0
    errors: list = field(default_factory=list)
    worst_clip: str = ""
    worst_mean: float = -1.0

    def add(self, clip_id: str, error: np.ndarray) -> None:
        """Record one clip's ``(T,)`` errors (NaN on frames without one)."""
        error = np.asarray(error, np.float64)
        error = error[np.isfinite(error)]
        if not error.size:
            return
        self.clips += 1
        self.errors.append(error)
        if error.mean() > self.worst_mean:
            self.worst_clip, self.worst_mean = clip_id, float(error.mean())

    def row(self, split: str) -> tuple:
        """(split, clips, frames, median, p90, max, worst clip (its mean))."""
        frames = np.concatenate(self.errors) if self.errors else np.zeros(0)
        if not frames.size:
            return (split, 0, 0, "-", "-", "-", "-")
        median, p90, top = np.percentile(frames, [50, 90, 100])
        return (
            split,
            self.clips,
            frames.size,
            f"{median:.3f}",
            f"{p90:.3f}",
            f"{top:.3f}",
            f"{self.worst_clip} ({self.worst_mean:.3f})",
        )


@dataclass
class CheckReport:
    """Outcome of :func:`check_results`.

    Attributes
    ----------
    stages : dict[str, StageSummary]
        Per stage name, in workflow order.
    problems : list of Problem
    """

    stages: dict[str, StageSummary] = field(default_factory=lambda: {s.name: StageSummary() for s in STAGES})
    problems: list[Problem] = field(default_factory=list)
    expression: dict[str, ExpressionSummary] = field(default_factory=dict)

    def add(self, stage: str, problem: Problem) -> None:
        """Record ``problem`` against ``stage``."""
        self.problems.append(problem)
        self.stages[stage].problems += 1

    def table(self) -> str:
        """Summary table: stage, shards, clips, frames, problems."""
        rows = [("stage", "shards", "clips", "frames", "problems")]
        rows += [(name, s.shards, s.clips, s.frames, s.problems) for name, s in self.stages.items()]
        return _aligned(rows)

    def expression_table(self) -> str:
        """Per split: the fit's expression error (fraction of the eye distance) over its frames."""
        rows = [("split", "clips", "frames", "expression error median", "p90", "max", "worst clip (mean)")]
        rows += [summary.row(split) for split, summary in sorted(self.expression.items())]
        return _aligned(rows)


def _aligned(rows: list[tuple]) -> str:
    """Rows as text columns: the first left-aligned, the others right-aligned."""
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w) for i, (v, w) in enumerate(zip(row, widths)))
        for row in rows
    )


def check_array(group: zarr.Group, spec: ArraySpec, dims: dict[str, int]) -> str | None:
    """What is wrong with one array of a clip group, or None; binds its named dimensions in ``dims``."""
    if spec.name not in group.array_keys():
        return "missing"
    array = group[spec.name]
    if array.dtype != np.dtype(spec.dtype):
        return f"dtype {array.dtype}, expected {spec.dtype}"
    shape = tuple(array.shape)
    expected = "(" + ", ".join(str(d) for d in spec.shape) + ("," if len(spec.shape) == 1 else "") + ")"
    if len(shape) != len(spec.shape):
        return f"shape {shape}, expected {expected}"
    for length, dim in zip(shape, spec.shape):
        bound = dim if isinstance(dim, int) else dims.setdefault(dim, length)
        if length != bound:
            return f"shape {shape}, expected {expected} with {dim}={bound}"
    if not spec.nan_allowed and np.isnan(array[...]).any():
        return "holds NaN"
    return None


def check_clip(stage: Stage, store: Path, root: zarr.Group, clip_id: str, report: CheckReport) -> int | None:
    """Check one clip group; its frame count T when its frame array could be read."""
    if not (store / clip_id / "zarr.json").is_file():
        report.add(stage.name, Problem(store, clip_id, "", "clip group has no zarr.json"))
        return None
    group, dims = root[clip_id], {}
    for spec in stage.arrays:
        message = check_array(group, spec, dims)
        if message is not None:
            report.add(stage.name, Problem(store, clip_id, spec.name, message))
    return dims.get("T")


def check_store(stage: Stage, store: Path, report: CheckReport) -> dict[str, int]:
    """Check one store; frame count per clip that has one."""
    leftovers = sorted(p.name for p in store.parent.glob(f".{store.name}.tmp-*"))
    if leftovers:
        report.add(stage.name, Problem(store, "", "", f"half-written: temporary {', '.join(leftovers)} left"))
    if not (store / "zarr.json").is_file():
        message = "missing" if not store.exists() else "half-written: no zarr.json"
        report.add(stage.name, Problem(store, "", "", message))
        return {}
    report.stages[stage.name].shards += 1
    root = zarr.open_group(str(store), mode="r")
    schema = root.attrs.get("schema")
    if schema != stage.schema:
        report.add(stage.name, Problem(store, "", "", f"schema {schema!r}, expected {stage.schema!r}"))
    frames = {}
    for clip_id in sorted(p.name for p in store.iterdir() if p.is_dir()):
        n = check_clip(stage, store, root, clip_id, report)
        report.stages[stage.name].clips += 1
        if n is not None:
            frames[clip_id] = n
            report.stages[stage.name].frames += n
            if stage.name == "fit" and "expression_error" in root[clip_id].array_keys():
                summary = report.expression.setdefault(shard_split(store.name[: -len(".zarr")]), ExpressionSummary())
                summary.add(clip_id, root[clip_id]["expression_error"][...])
    return frames


def check_results(results: Path) -> CheckReport:
    """Check every store under ``results`` (see the module docstring)."""
    report = CheckReport()
    for shard in shards(results):
        counts: dict[str, dict[str, int]] = {}
        for stage in STAGES:
            for clip_id, n in check_store(stage, stage.store(results, shard), report).items():
                counts.setdefault(clip_id, {})[stage.name] = n
        for clip_id, per_stage in sorted(counts.items()):
            (first, reference), *others = per_stage.items()
            for name, n in others:
                if n != reference:
                    stage = stage_named(name)
                    message = f"frame count {n} differs from {first} ({reference})"
                    report.add(name, Problem(stage.store(results, shard), clip_id, stage.frames_array, message))
    return report
