"""The evaluation of a run as files: ``metrics.json``, ``table1.md``–``table3.md``, ``protocol.json``.

Written into ``results/eval/{run}/`` from the task score files (:mod:`headgan_model.evaluate.scores`)
of the run. Table 3 puts the run beside the runs of ``evaluate.runs``, read from their own
``results/eval/{other}/metrics.json``; a run not evaluated yet gets a row of missing values saying so.
"""

from __future__ import annotations

import json
from pathlib import Path

from headgan_model.evaluate.protocol import build_protocol
from headgan_model.evaluate.scores import TaskScores, read_scores, result_from_dict, result_to_dict, write_json
from headgan_model.evaluate.settings import EvaluateSettings
from headgan_model.evaluate.tables import (
    PAPER_TABLE1,
    PAPER_TABLE2,
    PAPER_TABLE3,
    TABLE1,
    TABLE2,
    TABLE3,
    markdown_table,
)
from headgan_model.metrics.lip_sync import MAX_OFFSET
from headgan_model.metrics.result import MetricResult
from headgan_prep.store.atomic import atomic_file

SCHEMA = "headgan.eval/1"
OUTPUTS = ("metrics.json", "table1.md", "table2.md", "table3.md", "protocol.json")


def metrics_document(run: str, scores: dict[str, TaskScores]) -> dict:
    """The content of ``metrics.json``: per task, per metric, value, missing, warnings, details."""
    tasks = {
        task: {name: result_to_dict(result) for name, result in item.metrics.items()}
        for task, item in sorted(scores.items())
    }
    return {"schema": SCHEMA, "run": run, "tasks": tasks}


def read_metrics(path: Path) -> dict[str, dict[str, MetricResult]]:
    """Task → metric → result of a ``metrics.json``."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    if document.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not an evaluation's metrics.json (schema {document.get('schema')!r})")
    return {
        task: {name: result_from_dict(name, item) for name, item in metrics.items()}
        for task, metrics in document["tasks"].items()
    }


def _missing_run(other: str, path: Path) -> dict[str, dict[str, MetricResult]]:
    reason = f"{path.parent.parent.name}/{other}/metrics.json not found: evaluate run {other} first (`snakemake evaluate --config train.run={other}`)"
    tasks: dict[str, dict[str, MetricResult]] = {}
    for column in TABLE3:
        tasks.setdefault(column.task, {})[column.metric] = MetricResult.unavailable(column.metric, reason)
    return tasks


def _footer(run: str, protocol: dict, tasks: tuple[str, ...]) -> list[str]:
    """What a table's run row was measured on, in a few lines."""
    evaluate = protocol["evaluate"]
    lines = [f"Measured on run `{run}`:"]
    for task in tasks:
        item = protocol["tasks"].get(task)
        if item is None:
            continue
        counts = (
            f"{item.get('clips', item.get('pairs'))} {'pairs' if 'pairs' in item else 'clips'}, {item['frames']} frames"
        )
        codecs = ", ".join(
            f"{f['codec']} {f['pix_fmt']} {f['width']}x{f['height']}"
            + (f" crf {f['options']['crf']}" if "crf" in f["options"] else "")
            for f in item["video_formats"]
        )
        lines.append(f"- {task}: {counts}; videos {codecs or 'none'}")
    lines.append(
        f"- LPIPS {evaluate['lpips']['net']}, CSIM {Path(evaluate['csim']['model']).name}, FVD {evaluate['fvd']['frames']}-frame windows, "
        f"seed {evaluate['seed']}; weights, versions and crop settings in protocol.json"
    )
    if "w600k_mbf" in evaluate["csim"]["model"]:
        lines.append("- CSIM with MobileFaceNet (w600k_mbf), not the usual ResNet-50 (w600k_r50): values differ")
    return lines


def write_report(
    run: str,
    out_dir: Path,
    score_files: dict[str, Path],
    settings: EvaluateSettings,
    apps_settings: dict,
    index_path: Path,
    files: dict[str, Path],
    eval_root: Path,
) -> dict:
    """Write :data:`OUTPUTS` into ``out_dir``.

    Parameters
    ----------
    run : str
    out_dir : Path
        ``results/eval/{run}/``.
    score_files : dict
        Task → its score file.
    settings : EvaluateSettings
    apps_settings : dict
        The ``apps:`` section the videos were generated with.
    index_path : Path
        The test split's index.
    files : dict
        Generator and 3DMM files by name, hashed into the protocol.
    eval_root : Path
        ``results/eval/``, where the runs of ``settings.runs`` are read from.

    Returns
    -------
    dict
        The protocol.
    """
    out_dir = Path(out_dir)
    scores = {task: read_scores(path) for task, path in score_files.items()}
    protocol = build_protocol(run, scores, settings, apps_settings, index_path, files)
    document = metrics_document(run, scores)
    own = {task: item.metrics for task, item in scores.items()}
    runs3 = {run: own}
    for other in settings.runs:
        if other == run:
            continue
        path = Path(eval_root) / other / "metrics.json"
        runs3[other] = read_metrics(path) if path.is_file() else _missing_run(other, path)
    tables = {
        "table1.md": markdown_table(
            "Table 1: reconstruction and reenactment (paper: VoxCeleb test set)", TABLE1, PAPER_TABLE1, {run: own},
            _footer(run, protocol, ("reconstruct", "reenact"))
            + [f"- beyond the paper: SSIM; AKD on the 68 iBUG landmarks, crop pixels; LSE-D and LSE-C with SyncNet "
               f"{Path(settings.syncnet.weights).name}, Wav2Lip's protocol (±{MAX_OFFSET} frames)"],
        ),
        "table2.md": markdown_table(
            "Table 2: frontalisation", TABLE2, PAPER_TABLE2, {run: own}, _footer(run, protocol, ("frontalise",))
            + [f"- frontalise generator audio: {', '.join(protocol['tasks'].get('frontalise', {}).get('audio', [])) or 'unknown'}"],
        ),
        "table3.md": markdown_table(
            "Table 3: runs side by side, reconstruction (paper: ablation, half the epochs)", TABLE3, PAPER_TABLE3, runs3,
            _footer(run, protocol, ("reconstruct",)) + [f"- other runs: {', '.join(r for r in runs3 if r != run) or 'none (evaluate.runs)'}"],
        ),
    }  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "metrics.json", document)
    for name, text in tables.items():
        with atomic_file(out_dir / name, "w") as handle:
            handle.write(text)
    write_json(out_dir / "protocol.json", protocol)
    return protocol
