"""``sam2auto eval ... --report DIR``: one self-contained HTML page with the table and three plots.

* **Id timeline** per sequence: a row per ground-truth object, coloured by the predicted id that
  covers it in each frame (the overlay's colours; grey: present but missed), with identity
  switches (the covering id changes) and fragmentations (coverage resumes after a miss) marked.
  Frames are matched one-to-one by IoU >= 0.5 (Hungarian), CLEAR's rule.
* **HOTA and IDF1** per sequence and combined, from the ``EvalReport``.
* **Score histogram** of the predicted instances, with the threshold SMART-OD's default method
  (``dynamic_threshold``, floor and ceiling included) puts on those scores pooled.

The plots are matplotlib SVG inlined in the page: it opens offline, with nothing to fetch.
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from scipy.optimize import linear_sum_assignment

from sam2auto_ros.core import FrameInstances
from sam2auto_ros.eval.metrics import COLUMNS, COMBINED, EvalReport
from sam2auto_ros.eval.sequences import _similarity, check_pair, tracked
from sam2auto_ros.io.overlay import track_color
from sam2auto_ros.smart_od.thresholds import dynamic_threshold

MATCH_IOU = 0.5
MISSED = -1
REPORT_NAME = "report.html"


@dataclass
class Timeline:
    """For each ground-truth id, per frame: the matched predicted id, ``MISSED``, or absent (None)."""

    frames: int
    rows: dict[int, list[int | None]] = field(default_factory=dict)

    def events(self, gt_id: int) -> tuple[list[int], list[int]]:
        """Frames of identity switches and of fragmentations (tracking resumed after a miss)."""
        switches, fragments = [], []
        last_id, missed_since_match = None, False
        for t, cell in enumerate(self.rows[gt_id]):
            if cell is None:
                continue
            if cell == MISSED:
                missed_since_match = last_id is not None
                continue
            if last_id is not None and cell != last_id:
                switches.append(t)
            if missed_since_match:
                fragments.append(t)
            last_id, missed_since_match = cell, False
        return switches, fragments


def id_timeline(gt: Sequence[FrameInstances], pred: Sequence[FrameInstances], similarity: str = "mask") -> Timeline:
    check_pair(gt, pred)
    timeline = Timeline(len(gt))
    for t, (g, p) in enumerate(zip(gt, pred)):
        gi, pi = tracked(g), tracked(p)
        cells: dict[int, int] = {i.track_id: MISSED for i in gi}
        if gi and pi:
            iou = _similarity(gi, pi, similarity, t)
            for r, c in zip(*linear_sum_assignment(-iou)):
                if iou[r, c] >= MATCH_IOU:
                    cells[gi[r].track_id] = pi[c].track_id
        for gt_id, cell in cells.items():
            timeline.rows.setdefault(gt_id, [None] * len(gt))[t] = cell
    return timeline


def _rgb(track_id: int) -> tuple[float, float, float]:
    r, g, b = track_color(track_id)
    return r / 255, g / 255, b / 255


def _timeline_figure(name: str, timeline: Timeline) -> Figure:
    ids = sorted(timeline.rows)
    fig, ax = plt.subplots(figsize=(10, 0.9 + 0.32 * max(len(ids), 1)))
    for row, gt_id in enumerate(ids):
        cells = timeline.rows[gt_id]
        t = 0
        while t < len(cells):  # runs of one value
            end = t
            while end + 1 < len(cells) and cells[end + 1] == cells[t]:
                end += 1
            if cells[t] is not None:
                colour = (0.8, 0.8, 0.8) if cells[t] == MISSED else _rgb(int(cells[t]))  # type: ignore[arg-type]
                ax.broken_barh([(t - 0.5, end - t + 1)], (row - 0.35, 0.7), facecolors=colour)
            t = end + 1
        switches, fragments = timeline.events(gt_id)
        ax.scatter(switches, [row] * len(switches), marker="v", s=60, c="red", zorder=3)
        ax.scatter(fragments, [row] * len(fragments), marker="|", s=160, c="black", zorder=3)
    ax.set_yticks(range(len(ids)), [f"gt {i}" for i in ids])
    ax.set_xlim(-0.5, timeline.frames - 0.5)
    ax.set_ylim(-0.7, len(ids) - 0.3)
    ax.invert_yaxis()
    ax.set_xlabel("frame")
    ax.set_title(f"{name}: ground-truth objects coloured by predicted id (grey: missed; "
                 "red triangles: identity switches; black bars: fragmentations)", fontsize=9)
    fig.tight_layout()
    return fig


def _bars_figure(report: EvalReport) -> Figure:
    names = list(report.rows)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(names) + 2), 3.2))
    for k, (metric, colour) in enumerate((("HOTA", "#4c72b0"), ("IDF1", "#dd8452"))):
        values = [report.rows[n].get(metric, float("nan")) for n in names]
        bars = ax.bar(x + (k - 0.5) * 0.38, values, 0.38, label=metric, color=colour)
        ax.bar_label(bars, fmt="%.3f", fontsize=7)
    ax.set_xticks(x, names, rotation=20, ha="right", fontsize=8)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("score")
    ax.legend(loc="lower right")
    ax.set_title("HOTA and IDF1 per sequence", fontsize=9)
    fig.tight_layout()
    return fig


def _scores_figure(sequences: Mapping[str, tuple[Sequence[FrameInstances], Sequence[FrameInstances]]]) -> Figure:
    scores = np.array([i.score for _, pred in sequences.values() for f in pred for i in tracked(f)], dtype=float)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.hist(scores, bins=[k / 40 for k in range(41)], color="#55a868")
    if scores.size:
        result = dynamic_threshold(scores)
        ax.axvline(result.theta_final, color="red", lw=2, label=f"SMART-OD threshold {result.theta_final:.3f}")
        if result.theta_dynamic != result.theta_final:
            ax.axvline(result.theta_dynamic, color="red", lw=1, ls="--",
                       label=f"before floor/ceiling {result.theta_dynamic:.3f} ({result.reason})")
        ax.legend()
    ax.set_xlabel("score of a predicted instance")
    ax.set_ylabel("instances")
    ax.set_title(f"score histogram ({scores.size} instances); threshold: SMART-OD's default method on them pooled",
                 fontsize=9)
    fig.tight_layout()
    return fig


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def write_report(out_dir: str | Path, sequences: Mapping[str, tuple[Sequence[FrameInstances], Sequence[FrameInstances]]],
                 report: EvalReport, title: str) -> Path:
    """Write ``DIR/report.html``; returns its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = report.table(COLUMNS, tablefmt="html")
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:1100px} table{border-collapse:collapse;font-size:12px}"
        " td,th{border:1px solid #ccc;padding:2px 6px;text-align:right} figure{margin:1.5em 0}"
        " figcaption{font-size:13px;color:#444}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{len(sequences)} sequence(s), {report.similarity} IoU. {COMBINED}: the sequences combined.</p>",
        f'<section id="table">{table}</section>',
        '<h2>Scores per sequence</h2>',
        f'<figure class="plot" id="bars">{_svg(_bars_figure(report))}<figcaption>HOTA and IDF1.</figcaption></figure>',
        "<h2>Identity over time</h2>",
    ]
    for name, (gt, pred) in sequences.items():
        timeline = id_timeline(gt, pred, report.similarity)
        n_switch = sum(len(timeline.events(g)[0]) for g in timeline.rows)
        n_frag = sum(len(timeline.events(g)[1]) for g in timeline.rows)
        parts.append(f'<figure class="plot timeline" id="timeline-{html.escape(name)}">'
                     f"{_svg(_timeline_figure(name, timeline))}<figcaption>{html.escape(name)}: "
                     f"{len(timeline.rows)} objects, {n_switch} identity switches, {n_frag} fragmentations "
                     f"(per-frame matching at IoU &ge; {MATCH_IOU}).</figcaption></figure>")
    parts += ["<h2>Scores</h2>",
              f'<figure class="plot" id="scores">{_svg(_scores_figure(sequences))}'
              "<figcaption>Scores of the predicted instances.</figcaption></figure>",
              "</body></html>"]
    path = out / REPORT_NAME
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
