"""Agreement with reference results on the MOT15 files the motmetrics wheel ships.

motmetrics 1.4 itself no longer runs on numpy 2 (``np.asfarray``), so only its data files are
used; the expected values are the ones its own test suite asserts (tests/test_metrics.py,
``test_motchallenge_files``): IDF1, MOTA, MOTP (as a distance, 1 - IoU), FP, FN, IDSW, Frag.
HOTA is checked against trackeval's own MOTChallenge pipeline (its file reader + evaluator) run
on the same files, which checks our conversion into trackeval's data layout.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import trackeval

from sam2auto_ros.eval import evaluate, read_mot
from sam2auto_ros.eval.sequences import frames_from_mapping

REFERENCE = {
    #                 IDF1      MOTA      MOTP(dist) FP  FN   IDSW Frag
    "TUD-Campus": (0.557659, 0.526462, 0.277201, 13, 150, 7, 7),
    "TUD-Stadtmitte": (0.644619, 0.564014, 0.345904, 45, 452, 7, 6),
}
OVERALL_IDF1, OVERALL_MOTA = 0.624296, 0.555116


@pytest.fixture(scope="module")
def data() -> Path:
    spec = importlib.util.find_spec("motmetrics")
    if spec is None or spec.origin is None:
        pytest.fail("motmetrics (data files only) is missing: run scripts/setup.sh")
    return Path(spec.origin).parent / "data"


@pytest.fixture(scope="module")
def report(data):
    sequences = {}
    for name in REFERENCE:
        gt, pred = read_mot(data / name / "gt.txt"), read_mot(data / name / "test.txt")
        n_frames = max([*gt, *pred]) + 1
        gt_frames = frames_from_mapping(gt, n_frames)
        sequences[name] = (gt_frames, frames_from_mapping(pred, n_frames, like=gt_frames))
    return evaluate(sequences, similarity="box")


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_mot15_matches_motmetrics(report, name):
    idf1, mota, motp_distance, fp, fn, idsw, frag = REFERENCE[name]
    row = report.rows[name]
    assert row["IDF1"] == pytest.approx(idf1, abs=1e-3)
    assert row["MOTA"] == pytest.approx(mota, abs=1e-3)
    assert 1.0 - row["MOTP"] == pytest.approx(motp_distance, abs=1e-3)
    assert (row["FP"], row["FN"], row["IDSW"], row["Frag"]) == (fp, fn, idsw, frag)


def test_mot15_overall(report):
    assert report.combined["IDF1"] == pytest.approx(OVERALL_IDF1, abs=1e-3)
    assert report.combined["MOTA"] == pytest.approx(OVERALL_MOTA, abs=1e-3)


def test_hota_matches_trackevals_own_mot_pipeline(report, data, tmp_path):
    lengths = {}
    for name in REFERENCE:
        (tmp_path / "gt" / name / "gt").mkdir(parents=True)
        shutil.copy(data / name / "gt.txt", tmp_path / "gt" / name / "gt" / "gt.txt")
        (tmp_path / "trackers" / "ref" / "data").mkdir(parents=True, exist_ok=True)
        shutil.copy(data / name / "test.txt", tmp_path / "trackers" / "ref" / "data" / f"{name}.txt")
        frames = [np.loadtxt(data / name / f, delimiter=",")[:, 0].max() for f in ("gt.txt", "test.txt")]
        lengths[name] = int(max(frames))
    dataset = trackeval.datasets.MotChallenge2DBox({
        "GT_FOLDER": str(tmp_path / "gt"), "TRACKERS_FOLDER": str(tmp_path / "trackers"), "BENCHMARK": "MOT15",
        "SKIP_SPLIT_FOL": True, "SEQ_INFO": lengths, "TRACKERS_TO_EVAL": ["ref"], "PRINT_CONFIG": False,
    })
    evaluator = trackeval.Evaluator({
        "PRINT_CONFIG": False, "PRINT_RESULTS": False, "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False,
        "PLOT_CURVES": False, "TIME_PROGRESS": False, "USE_PARALLEL": False,
    })
    with contextlib.redirect_stdout(io.StringIO()):
        results, messages = evaluator.evaluate([dataset], [trackeval.metrics.HOTA()])
    assert messages["MotChallenge2DBox"]["ref"] == "Success", messages
    ours = {**report.rows, "COMBINED_SEQ": report.combined}
    per_sequence = results["MotChallenge2DBox"]["ref"]
    for seq in (*REFERENCE, "COMBINED_SEQ"):
        hota = per_sequence[seq]["pedestrian"]["HOTA"]
        for key in ("HOTA", "DetA", "AssA"):
            assert ours[seq][key] == pytest.approx(float(np.mean(hota[key])), abs=1e-6), (seq, key)
