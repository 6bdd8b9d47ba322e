"""The evaluation report: id timelines that mark switches and fragmentations, and a page that a
real browser (headless Debian chromium) renders with its plots."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from sam2auto_ros.cli import main as cli_main
from sam2auto_ros.core.instance import FrameInstances, Instance, InstanceStatus
from sam2auto_ros.eval.report import MISSED, REPORT_NAME, id_timeline

H, W = 40, 60


def _blob(x: int) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[10:20, x : x + 10] = True
    return mask


def _frame(t: int, *instances: tuple[int, int]) -> FrameInstances:
    """``instances``: (track id, x of a 10x10 blob)."""
    return FrameInstances(stamp_ns=t, height=H, width=W, instances=tuple(
        Instance.from_mask_array(_blob(x), label="car", score=0.9, track_id=tid) for tid, x in instances))


def test_the_timeline_marks_a_switch_and_a_fragmentation():
    # gt 1 at x=5 in frames 0-6, gt 2 at x=40 in frames 2-4 only
    gt = [_frame(t, (1, 5), *([(2, 40)] if 2 <= t <= 4 else [])) for t in range(7)]
    pred = [
        _frame(0, (5, 5)), _frame(1, (5, 5)), _frame(2, (5, 5), (8, 40)),
        _frame(3, (8, 40)),  # gt 1 missed
        _frame(4, (6, 5), (8, 40)),  # gt 1 back under another id: a switch and a fragmentation
        _frame(5, (6, 5)),
        _frame(6, (6, 30)),  # gt 1 missed again (wrong place), never resumed
    ]
    timeline = id_timeline(gt, pred)
    assert timeline.rows[1] == [5, 5, 5, MISSED, 6, 6, MISSED]
    assert timeline.rows[2] == [None, None, 8, 8, 8, None, None]
    assert timeline.events(1) == ([4], [4])
    assert timeline.events(2) == ([], [])


def test_occluded_and_untracked_instances_are_not_matched():
    gt = [_frame(0, (1, 5))]
    hidden = FrameInstances(0, H, W, (Instance.from_mask_array(_blob(5), label="car", score=0.9, track_id=3,
                                                               status=InstanceStatus.OCCLUDED),))
    assert id_timeline(gt, [hidden]).rows[1] == [MISSED]


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    code = cli_main(["eval", "sim", "--tracker", "oracle-detections", "--preset", "mixed", "--seeds", "0-1",
                     "--frames", "30", "--size", "96x96", "--no-jf", "--report", str(out)])
    assert code == 0
    return out


def test_the_page_holds_the_table_and_every_plot(report_dir):
    page = (report_dir / REPORT_NAME).read_text()
    figures = re.findall(r'<figure class="plot[^"]*" id="([^"]+)"><svg', page)
    assert figures == ["bars", "timeline-mixed-s0", "timeline-mixed-s1", "scores"]
    assert "<table>" in page and "COMBINED" in page and "SMART-OD threshold" in page
    assert not re.search(r'(src|href)="(?!#)', page)  # nothing to fetch: it opens offline


@pytest.mark.browser
def test_headless_chromium_renders_the_report(report_dir, tmp_path):
    page = (report_dir / REPORT_NAME).resolve()
    shot = tmp_path / "report.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
             "--window-size=1200,2400"]
    dom = subprocess.run(["chromium", *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "CONSOLE" not in dom.stderr  # no page errors
    assert len(re.findall(r'<figure class="plot', dom.stdout)) == 4 and dom.stdout.count("<svg") >= 4
    done = subprocess.run(["chromium", *flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    image = cv2.imread(str(shot))
    assert image.shape[:2] == (2400, 1200)
    # the plots drew something: many distinct colours, and the track colours' saturated pixels
    colours = np.unique(image.reshape(-1, 3), axis=0)
    saturated = (image.max(axis=2).astype(int) - image.min(axis=2)) > 100
    assert len(colours) > 200 and saturated.sum() > 5000
