"""The harness scores known cases to known values: perfect truth, swapped ids, dropped frames,
half masks, AP orderings, and refuses malformed input."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sam2auto_ros.core import FrameInstances, Instance, InstanceStatus, RleMask
from sam2auto_ros.eval import COMBINED, EvalError, average_precision, evaluate
from sam2auto_ros.sim import make_scene

H = W = 64
T = 20


def _square(x: int, y: int, w: int = 12, h: int = 12) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[y : y + h, x : x + w] = True
    return mask


def _inst(mask: np.ndarray, tid: int, label: str = "box", score: float = 1.0) -> Instance:
    return Instance.from_mask_array(mask, label=label, score=score, track_id=tid, status=InstanceStatus.CONFIRMED)


def _frames(per_frame) -> list[FrameInstances]:
    return [FrameInstances(t, H, W, tuple(per_frame(t)), frame_index=t) for t in range(T)]


def _two_objects(t: int) -> list[Instance]:
    """Object 1 moves right along the top, object 2 left along the bottom; never overlapping."""
    return [_inst(_square(2 + t, 5), 1), _inst(_square(50 - t, 40), 2)]


GT = _frames(_two_objects)


def _only(report, *keys):
    return {k: report.combined[k] for k in keys}


@pytest.mark.parametrize("similarity", ["mask", "box"])
def test_ground_truth_scored_as_prediction_is_perfect(similarity):
    report = evaluate({"toy": (GT, GT)}, similarity=similarity)
    row = report.combined
    for key in ("HOTA", "DetA", "AssA", "LocA", "IDF1", "MOTA", "AP", "AP50"):
        assert row[key] == pytest.approx(1.0), key
    assert row["IDSW"] == row["FP"] == row["FN"] == 0
    if similarity == "mask":
        assert row["J"] == row["F"] == row["J&F"] == pytest.approx(1.0)
    else:
        assert np.isnan(row["J&F"])


def test_simulated_truth_with_occlusions_and_exits_is_perfect_and_ids_are_arbitrary():
    gt = [f.gt for f in make_scene("mixed", seed=4, n_frames=60).frames()]
    renamed = [replace(f, instances=tuple(i.with_track(i.track_id * 7 + 100) for i in f.instances)) for f in gt]
    row = evaluate({"sim": (gt, renamed)}).combined
    for key in ("HOTA", "IDF1", "MOTA", "J&F", "AP"):
        assert row[key] == pytest.approx(1.0), key
    assert row["IDSW"] == 0


def test_swapping_two_ids_part_way_gives_the_computed_scores():
    swap_at = 12

    def swapped(t):
        a, b = _two_objects(t)
        return [a, b] if t < swap_at else [a.with_track(2), b.with_track(1)]

    row = evaluate({"swap": (GT, _frames(swapped))}).combined
    assert row["IDSW"] == 2  # both objects change id once
    assert row["MOTA"] == pytest.approx(1 - 2 / 40)
    # IDF1: the best id mapping keeps the first 12 frames of each object: IDTP = 24 of 40 + 40
    assert row["IDF1"] == pytest.approx(2 * 24 / 80)
    # HOTA at every alpha (IoU is 1): DetA = 1; AssA averages TPA / (TPA + FNA + FPA) over matches
    ass_a = (24 * 12 / (12 + 8 + 8) + 16 * 8 / (8 + 12 + 12)) / 40
    assert row["DetA"] == pytest.approx(1.0)
    assert row["AssA"] == pytest.approx(ass_a)
    assert row["HOTA"] == pytest.approx(np.sqrt(ass_a))


def test_dropping_every_other_frame_of_one_object():
    def dropped(t):
        a, b = _two_objects(t)
        return [b] if t % 2 else [a, b]

    row = evaluate({"drop": (GT, _frames(dropped))}).combined
    assert row["FN"] == 10 and row["FP"] == 0 and row["IDSW"] == 0
    assert row["MOTA"] == pytest.approx(30 / 40)
    assert row["DetA"] == pytest.approx(30 / 40)
    assert row["IDF1"] == pytest.approx(2 * 30 / (40 + 30))
    assert row["AssA"] == pytest.approx((10 * 0.5 + 20 * 1.0) / 30)
    assert row["Frag"] == 9  # object 1 is picked up again 9 times


def test_half_masks_give_j_one_half():
    def halves(t):
        a, b = _two_objects(t)
        return [_inst(_square(2 + t, 5, w=6), 1), _inst(_square(50 - t, 40, w=6), 2)]

    row = evaluate({"half": (GT, _frames(halves))}).combined
    assert row["J"] == pytest.approx(0.5)
    assert 0.0 < row["F"] < 1.0
    # LocA is 0.5 where anything matches (alpha <= 0.5) and 1 by trackeval's convention where nothing does
    assert row["LocA"] == pytest.approx((10 * 0.5 + 9 * 1.0) / 19)
    assert row["MOTA"] == pytest.approx(1.0)  # IoU 0.5 still matches for CLEAR
    # HOTA only matches at alpha <= 0.5: 10 of 19 thresholds
    assert row["DetA"] == pytest.approx(10 / 19)


def test_untracked_detections_count_for_ap_but_not_for_tracking():
    def with_untracked(t):
        a, b = _two_objects(t)
        return [a, replace(b, track_id=-1, status=InstanceStatus.DETECTION)]

    row = evaluate({"u": (GT, _frames(with_untracked))}).combined
    assert row["FN"] == T  # object 2 has no track
    assert row["AP"] == pytest.approx(1.0)  # but it is detected on every frame


def test_ap_depends_on_score_order_and_labels():
    false_positive = _inst(_square(30, 20), 9, score=0.5)

    def ranked(fp_score):
        return _frames(lambda t: [*_two_objects(t), replace(false_positive, score=fp_score)])

    assert average_precision([(GT, ranked(0.5))])["AP"] == pytest.approx(1.0)  # FPs ranked below all TPs
    assert average_precision([(GT, ranked(1.5))])["AP"] < 0.9  # FPs ranked first
    relabelled = _frames(lambda t: [replace(i, label="ball") for i in _two_objects(t)])
    assert average_precision([(GT, relabelled)])["AP"] == pytest.approx(0.0)
    assert average_precision([(GT, relabelled)], class_agnostic=True)["AP"] == pytest.approx(1.0)


def test_report_rows_and_table():
    report = evaluate({"a": (GT, GT), "b": (GT, _frames(lambda t: _two_objects(t)[:1]))})
    assert list(report.rows) == ["a", "b", COMBINED]
    assert report.rows["b"]["FN"] == T and report.combined["FN"] == T
    assert 0.5 < report.combined["IDF1"] < 1.0
    table = report.table()
    assert "HOTA" in table and "COMBINED" in table and len(table.splitlines()) == 5


@pytest.mark.parametrize(
    "sequences, fragment",
    [
        ({"x": (GT, GT[:-1])}, "20 frames but predictions have 19"),
        ({"x": (GT, _frames(lambda t: [_inst(_square(1, 1), 3), _inst(_square(30, 30), 3)]))}, "track id 3 twice"),
        ({COMBINED: (GT, GT)}, "reserved"),
        ({}, "nothing to evaluate"),
    ],
)
def test_malformed_input_is_refused(sequences, fragment):
    with pytest.raises(EvalError, match=fragment):
        evaluate(sequences)


def test_mask_mode_needs_masks():
    boxes = _frames(lambda t: [replace(i, mask=None) for i in _two_objects(t)])
    with pytest.raises(EvalError, match="similarity='box'"):
        evaluate({"x": (GT, boxes)})
    assert evaluate({"x": (GT, boxes)}, similarity="box").combined["MOTA"] == pytest.approx(1.0)


def test_occluded_tracks_without_pixels_are_not_scored_as_detections():
    """A tracker that keeps an occluded object alive (empty mask) must not earn false positives."""
    mask = np.zeros((20, 20), bool)
    mask[5:10, 5:10] = True
    gt, pred = [], []
    for n in range(6):
        visible = n < 3
        gt_inst = (Instance.from_mask_array(mask, track_id=1, label="a", score=1.0),) if visible else ()
        shown = Instance.from_mask_array(mask, track_id=7, label="a", score=0.9)
        hidden = Instance(mask=RleMask.empty(20, 20), track_id=7, label="a", score=0.9, status=InstanceStatus.OCCLUDED)
        gt.append(FrameInstances(n, 20, 20, gt_inst))
        pred.append(FrameInstances(n, 20, 20, (shown if visible else hidden,)))
    row = evaluate({"s": (gt, pred)}, with_jf=False).rows["s"]
    assert row["FP"] == 0 and row["IDF1"] == pytest.approx(1.0) and row["HOTA"] == pytest.approx(1.0)
