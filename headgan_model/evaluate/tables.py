"""Tables 1–3 of the paper as Markdown: the paper's rows for reference, then this pipeline's runs.

Every value of a run is printed with a note marker when its metric carried warnings or is missing
(``—``): the notes under the table give, per marker, the metric, the task and each warning or the
reason it is missing, so that no number is read without what makes it incomparable.
"""

from __future__ import annotations

from dataclasses import dataclass

from headgan_model.metrics.result import MetricResult

DECIMALS = {
    "L1": 2, "PSNR": 2, "SSIM": 3, "LPIPS": 3, "FID": 1, "FVD": 0, "CSIM": 3, "ARD": 2, "AU-H": 3, "ARE": 2,
    "AKD": 2, "LSE-D": 3, "LSE-C": 3,
}  # fmt: skip
"""Decimals of each metric, as the paper prints them (beyond the paper: SSIM as LPIPS, AKD as ARD,
LSE-D and LSE-C as Wav2Lip prints them)."""
ARROWS = {
    "L1": "↓",
    "PSNR": "↑",
    "SSIM": "↑",
    "LPIPS": "↓",
    "FID": "↓",
    "FVD": "↓",
    "CSIM": "↑",
    "ARD": "↓",
    "AU-H": "↓",
    "ARE": "↓",
    "AKD": "↓",
    "LSE-D": "↓",
    "LSE-C": "↑",
}
MISSING = "—"
NOT_REPORTED = "n/r"
"""Cell of a paper row for a metric the paper does not report."""


@dataclass(frozen=True)
class Column:
    """One column: a metric of a task."""

    task: str
    metric: str
    group: str

    @property
    def header(self) -> str:
        return f"{self.metric} {ARROWS[self.metric]}"


RECONSTRUCTION_COLUMNS = ("L1", "PSNR", "LPIPS", "SSIM", "FID", "FVD", "CSIM", "AKD", "LSE-D", "LSE-C")
REENACTMENT_COLUMNS = ("FID", "CSIM", "ARD", "AU-H", "LSE-D", "LSE-C")
TABLE1 = (
    *(Column("reconstruct", m, "Reconstruction") for m in RECONSTRUCTION_COLUMNS),
    *(Column("reenact", m, "Reenactment") for m in REENACTMENT_COLUMNS),
)
TABLE2 = tuple(Column("frontalise", m, "Frontalisation") for m in ("FID", "CSIM", "ARE"))
TABLE3 = tuple(Column("reconstruct", m, "Reconstruction") for m in ("FID", "FVD", "CSIM"))

_PAPER_TABLE1 = {
    "X2Face": ((13.49, 20.69, 0.260, None, 130.2, 697, 0.600), (122.1, 0.520, 4.39, 0.346)),
    "fs-vid2vid": ((17.15, 18.52, 0.197, None, 62.8, 471, 0.542), ("-", "-", "-", "-")),
    "Bi-layer*": ((12.18, 20.19, 0.152, None, 92.2, 394, 0.590), (172.8, 0.563, 1.01, 0.296)),
    "FOMM": ((12.34, 20.93, 0.153, None, 64.9, 338, 0.754), (63.7, 0.765, 12.53, 0.400)),
    "HeadGAN": ((11.32, 21.46, 0.112, None, 36.1, 254, 0.807), (58.0, 0.688, 1.35, 0.326)),
}
PAPER_TABLE1 = {
    method: (
        *reconstruction, *[None] * (len(RECONSTRUCTION_COLUMNS) - len(reconstruction)),
        *reenactment, *[None] * (len(REENACTMENT_COLUMNS) - len(reenactment)),
    )
    for method, (reconstruction, reenactment) in _PAPER_TABLE1.items()
}  # fmt: skip
"""Table 1 of the paper (VoxCeleb test set), in :data:`TABLE1` order; None: not reported (SSIM,
AKD, LSE-D and LSE-C, the columns beyond the paper)."""
PAPER_TABLE2 = {"pSp": (147.8, 0.130, 2.66), "RaR": (88.4, 0.753, 2.65), "HeadGAN": (30.1, 0.766, 0.76)}
PAPER_TABLE3 = {
    "HeadGAN w/o network F": (63.3, 473, 0.307),
    "HeadGAN w/ landmarks": (55.7, 371, 0.699),
    "HeadGAN w/o audio input": (55.1, 356, 0.687),
    "HeadGAN": (50.9, 334, 0.716),
}
"""Table 3 of the paper (ablation; models trained for half the epochs)."""


def format_value(metric: str, value) -> str:
    """A value as the paper prints the metric (:data:`DECIMALS`); paper cells may be ``"-"``."""
    if value is None:
        return NOT_REPORTED
    if isinstance(value, str):
        return value
    return f"{value:.{DECIMALS[metric]}f}"


class Notes:
    """The numbered notes of one table."""

    def __init__(self):
        self.lines: list[str] = []

    def cell(self, run: str, column: Column, result: MetricResult | None) -> str:
        """The cell of a run's result, with a marker for its notes."""
        if result is None:
            return MISSING
        text = MISSING if result.value is None else format_value(column.metric, result.value)
        notes = ([f"missing: {result.missing}"] if result.missing else []) + [f"warning: {w}" for w in result.warnings]
        if not notes:
            return text
        self.lines.append(f"{len(self.lines) + 1}. {column.metric} ({column.task}, {run}): " + " | ".join(notes))
        return f"{text} [{len(self.lines)}]"


def markdown_table(
    title: str,
    columns: tuple[Column, ...],
    paper: dict,
    runs: dict[str, dict[str, dict[str, MetricResult]]],
    footer: list[str],
) -> str:
    """A Markdown table: a group header row, the paper's rows, a separator row, each run's row, notes.

    Parameters
    ----------
    title : str
    columns : tuple of Column
    paper : dict
        Method → values in ``columns`` order.
    runs : dict
        Run label → task → metric → result.
    footer : list of str
        Lines printed under the notes (what the runs were measured on).
    """
    notes = Notes()
    head = ["Method"] + [c.header for c in columns]
    groups = [f"*{c.group}*" if i == 0 or columns[i - 1].group != c.group else "" for i, c in enumerate(columns)]
    lines = [f"# {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines.append("| *task* | " + " | ".join(groups) + " |")
    for method, values in paper.items():
        lines.append(
            f"| {method} (paper) | " + " | ".join(format_value(c.metric, v) for c, v in zip(columns, values)) + " |"
        )
    for label, tasks in runs.items():
        cells = [notes.cell(label, c, tasks.get(c.task, {}).get(c.metric)) for c in columns]
        lines.append(f"| **{label}** | " + " | ".join(cells) + " |")
    lines.append("")
    if notes.lines:
        lines += ["Notes:", "", *notes.lines, ""]
    lines += footer
    return "\n".join(lines).rstrip() + "\n"
