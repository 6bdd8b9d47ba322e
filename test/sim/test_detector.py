"""The detector noise model: clean output when told, and the promised statistics when noisy."""

from __future__ import annotations

import numpy as np
import pytest

from sam2auto_ros.core import InstanceStatus, mask_iou_matrix
from sam2auto_ros.sim import DetectorNoise, NoisyDetector, make_scene, noise_preset


@pytest.fixture(scope="module")
def truth():
    """Ground truth of several seeded scenes (rendered once for the module)."""
    return [[f.gt for f in make_scene("mixed", seed=s, n_frames=300, noise=0.0).frames()] for s in range(4)]


def test_perfect_detector_returns_the_truth_as_untracked_detections(truth):
    detector = NoisyDetector(noise_preset("perfect"))
    for gt in truth[0][:40]:
        frame, sources = detector.detect_with_truth(gt)
        assert (frame.stamp_ns, frame.frame_index, frame.height, frame.width) == (
            gt.stamp_ns, gt.frame_index, gt.height, gt.width)
        by_id = {i.track_id: i for i in gt.instances}
        assert sorted(sources) == sorted(by_id)
        for det, src in zip(frame.instances, sources):
            assert det.track_id == -1 and det.status == InstanceStatus.DETECTION
            assert det.mask.counts == by_id[src].mask.counts
            assert det.label == by_id[src].label
            assert 0.0 < det.score < 1.0
            assert np.array_equal(det.box, by_id[src].box)


def _misses(truth, noise, seed=0):
    """Per (sequence, object): the 0/1 detected-or-not series over the frames it is present in."""
    series, fp, emitted, ious = {}, 0, 0, []
    for s, frames in enumerate(truth):
        detector = NoisyDetector(noise, sequence_seed=seed * 100 + s)
        for gt in frames:
            frame, sources = detector.detect_with_truth(gt)
            fp += sources.count(0)
            emitted += len(sources)
            by_id = {i.track_id: i for i in gt.instances}
            for det, src in zip(frame.instances, sources):
                if src:
                    ious.append(mask_iou_matrix([det.mask], [by_id[src].mask])[0, 0])
            for inst in gt.instances:
                series.setdefault((s, inst.track_id), []).append(inst.track_id in sources)
    return series, fp / max(emitted, 1), np.array(ious)


def _gap_lengths(detected: list[bool]) -> list[int]:
    gaps, run = [], 0
    for hit in detected:
        if hit:
            if run:
                gaps.append(run)
            run = 0
        else:
            run += 1
    return gaps + ([run] if run else [])


def test_benchmark_preset_statistics(truth):
    noise = noise_preset("benchmark")
    series, fp_fraction, ious = _misses(truth, noise)
    flags = np.concatenate([np.asarray(v) for v in series.values()])
    miss_rate = 1.0 - flags.mean()
    gaps = [g for v in series.values() for g in _gap_lengths(v)]
    assert flags.size > 3000
    assert abs(miss_rate - 0.30) < 0.04, miss_rate
    assert abs(fp_fraction - 0.05) < 0.015, fp_fraction
    assert max(gaps) <= 15
    assert max(gaps) >= 12 and np.mean(gaps) > 4  # misses really come in bursts
    assert 0.6 < ious.mean() < 0.99  # masks are perturbed but still cover their objects


def test_same_seed_same_detections(truth):
    runs = []
    for _ in range(2):
        detector = NoisyDetector(noise_preset("benchmark", seed=3), sequence_seed=7)
        runs.append([[(d.mask.counts, d.score, d.label, d.box.tobytes()) for d in detector.detect(gt).instances]
                     for gt in truth[1][:60]])
    assert runs[0] == runs[1]
    other = NoisyDetector(noise_preset("benchmark", seed=4), sequence_seed=7)
    assert runs[0] != [[(d.mask.counts, d.score, d.label, d.box.tobytes()) for d in other.detect(gt).instances]
                       for gt in truth[1][:60]]


def test_reset_restarts_the_sequence(truth):
    detector = NoisyDetector(noise_preset("mild"))
    first = [len(detector.detect(gt)) for gt in truth[2][:50]]
    detector.reset()
    assert [len(detector.detect(gt)) for gt in truth[2][:50]] == first


def test_scores_separate_true_from_false_positives(truth):
    detector = NoisyDetector(noise_preset("benchmark", false_positive_rate=0.3))
    tp, fp = [], []
    for gt in truth[3][:150]:
        frame, sources = detector.detect_with_truth(gt)
        for det, src in zip(frame.instances, sources):
            (tp if src else fp).append(det.score)
    assert len(fp) > 20
    assert np.mean(tp) == pytest.approx(0.8, abs=0.05)
    assert np.mean(fp) == pytest.approx(3 / 7, abs=0.07)


def test_label_flips_at_the_requested_rate(truth):
    detector = NoisyDetector(DetectorNoise(label_flip_rate=0.2))
    flipped = total = 0
    for gt in truth[0][:150]:
        labels = {i.track_id: i.label for i in gt.instances}
        frame, sources = detector.detect_with_truth(gt)
        for det, src in zip(frame.instances, sources):
            total += 1
            flipped += det.label != labels[src]
    assert abs(flipped / total - 0.2) < 0.05


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"miss_rate": 0.9, "max_gap": 3}, "raise max_gap"),
        ({"max_gap": 0}, "max_gap"),
        ({"false_positive_rate": 1.0}, "false_positive_rate"),
        ({"tp_score": (0.0, 1.0)}, "Beta"),
    ],
)
def test_bad_noise_names_the_problem(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        DetectorNoise(**kwargs)


def test_unknown_noise_preset():
    with pytest.raises(ValueError, match="benchmark"):
        noise_preset("awful")
