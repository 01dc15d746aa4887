"""Scores of one task: per-clip rows, set-level metric results, and their JSON form.

A task's score of a per-frame metric is the mean over every frame (or frame pair) of the task, as
the supplement averages L1 over "channels, pixel locations and frames in the test set": per-clip
results are combined by :func:`pooled`, weighted by the frames each one counted. Every number is
written with :data:`DIGITS` significant digits, so the files do not change with the last bits of a
sum's order.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from headgan_model.metrics.result import MetricResult
from headgan_prep.store.atomic import atomic_file

DIGITS = 10
"""Significant digits of every number in the score files."""
SCHEMA = "headgan.eval.task/1"


def rounded(value):
    """``value`` (a number, or a dict / list of them) at :data:`DIGITS` significant digits; other values unchanged."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return float(f"{value:.{DIGITS}g}")
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(item) for item in value]
    return float(f"{float(value):.{DIGITS}g}")


def result_to_dict(result: MetricResult) -> dict:
    """JSON form of a :class:`MetricResult`: value, missing, warnings, details."""
    return {
        "value": rounded(result.value),
        "missing": result.missing,
        "warnings": list(result.warnings),
        "details": rounded(dict(sorted(result.details.items()))),
    }


def result_from_dict(name: str, values: dict) -> MetricResult:
    """Inverse of :func:`result_to_dict`."""
    return MetricResult(name, values["value"], tuple(values["warnings"]), values["missing"], dict(values["details"]))


def pooled(name: str, results: list[tuple[str, MetricResult, float]]) -> MetricResult:
    """One result of per-clip results of a per-frame metric: their mean weighted by frames.

    Parameters
    ----------
    name : str
    results : list of (clip id, MetricResult, weight)
        Weight: the frames (or frame pairs) the clip's value averages over.

    Returns
    -------
    MetricResult
        Missing when no clip has a value (the clips' reasons, each once); clips without a value
        or with warnings are counted in the warnings.
    """
    valued = [(clip, result, weight) for clip, result, weight in results if result.value is not None and weight > 0]
    if not results:
        return MetricResult.unavailable(name, "no clip to score")
    reasons = sorted({result.missing for _, result, _ in results if result.missing is not None})
    if not valued:
        return MetricResult.unavailable(name, "; ".join(reasons) or f"no frame counted on any of {len(results)} clips")
    total = sum(weight for _, _, weight in valued)
    value = sum(result.value * weight for _, result, weight in valued) / total
    warnings = []
    if len(valued) < len(results):
        warnings.append(
            f"{name}: {len(results) - len(valued)} of {len(results)} clips without a value left out ({'; '.join(reasons)})"
        )
    clip_warnings: dict[str, list[str]] = {}
    for clip, result, _ in results:
        for warning in result.warnings:
            clip_warnings.setdefault(warning, []).append(clip)
    warnings += [f"{warning} (clips: {', '.join(clips)})" for warning, clips in clip_warnings.items()]
    return MetricResult(name, value, tuple(warnings), details={"frames": float(total), "clips": float(len(valued))})


@dataclass
class TaskScores:
    """What scoring one task gives.

    Attributes
    ----------
    task : str
        ``reconstruct``, ``reenact`` or ``frontalise``.
    metrics : dict[str, MetricResult]
        Set-level results by metric name, in table order.
    rows : list[dict]
        One row per clip (or pair) for the per-clip CSV, the same keys in each.
    protocol : dict
        What the scores were measured on (counts, sizes, video encodings, the sampled frames, …).
    files : dict[str, str]
        Weights files the task's networks read, by name → path (hashed into the protocol).
    """

    task: str
    metrics: dict[str, MetricResult] = field(default_factory=dict)
    rows: list[dict] = field(default_factory=list)
    protocol: dict = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA,
            "task": self.task,
            "metrics": {name: result_to_dict(result) for name, result in self.metrics.items()},
            "protocol": rounded(self.protocol),
            "files": dict(sorted(self.files.items())),
        }

    @classmethod
    def from_dict(cls, values: dict) -> TaskScores:
        if values.get("schema") != SCHEMA:
            raise ValueError(f"not a task score file: schema {values.get('schema')!r}, expected {SCHEMA!r}")
        metrics = {name: result_from_dict(name, item) for name, item in values["metrics"].items()}
        return cls(values["task"], metrics, [], values["protocol"], values["files"])


def write_json(path: Path, values: dict) -> None:
    """``values`` as indented JSON with sorted keys, atomically (same values → same bytes)."""
    with atomic_file(Path(path), "w") as handle:
        handle.write(json.dumps(values, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def write_scores(scores: TaskScores, json_path: Path, csv_path: Path) -> None:
    """The task's score file (JSON) and its per-clip CSV (a header only when there are no rows)."""
    write_json(json_path, scores.to_dict())
    columns = list(scores.rows[0]) if scores.rows else ["clip_id"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    for row in scores.rows:
        writer.writerow({key: "" if value is None else rounded(value) for key, value in row.items()})
    with atomic_file(Path(csv_path), "w") as handle:
        handle.write(buffer.getvalue())


def read_scores(path: Path) -> TaskScores:
    """A task's score file written by :func:`write_scores`."""
    return TaskScores.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
