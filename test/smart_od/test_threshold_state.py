"""The threshold state one stream carries: the pooled window and the held cut (hold_frames).

The pipeline test at the end uses a scripted test double of the detector *interface*
(DetectorBackend with a scripted ``_predict``), so SmartOD's own sanitising and thresholding run.
"""

from __future__ import annotations

import numpy as np
import pytest

from sam2auto_ros.smart_od.config import ConfigError, SmartODConfig, ThresholdConfig
from sam2auto_ros.smart_od.detectors import DetectorBackend, RawDetections
from sam2auto_ros.smart_od.pipeline import SmartOD
from sam2auto_ros.smart_od.thresholds import ScoreWindow

RICH = np.array([0.05, 0.08, 0.1, 0.12, 0.15, 0.07, 0.11, 0.09, 0.85, 0.9, 0.8, 0.92, 0.88, 0.83])
THIN = np.array([0.9, 0.35])  # fewer than min_scores: no statistics of its own


def _per_frame(**kwargs) -> ScoreWindow:
    return ScoreWindow(ThresholdConfig(window_frames=1, **kwargs))


def test_thin_frame_after_a_confident_cut_holds_it_and_cuts_the_false_positive():
    window = _per_frame()
    cut = window.threshold(RICH)
    assert cut.reason == "method" and 0.35 < cut.theta_final < 0.8
    held = window.threshold(THIN)
    assert held.reason == "held" and held.theta_final == pytest.approx(cut.theta_final)
    assert np.sum(THIN >= held.theta_final) == 1  # 0.35 is cut, 0.9 kept
    unheld = _per_frame(hold_frames=0)
    unheld.threshold(RICH)
    plain = unheld.threshold(THIN)
    assert plain.reason == "too few" and np.all(THIN >= plain.theta_final)  # what the hold prevents


def test_hold_expires_after_hold_frames():
    window = _per_frame(hold_frames=3)
    window.threshold(RICH)
    reasons = [window.threshold(THIN).reason for _ in range(5)]
    assert reasons == ["held"] * 3 + ["too few"] * 2


def test_a_new_cut_restarts_the_hold():
    window = _per_frame(hold_frames=2)
    window.threshold(RICH)
    window.threshold(THIN)
    window.threshold(THIN)
    assert window.threshold(RICH).reason == "method"
    assert [window.threshold(THIN).reason for _ in range(3)] == ["held", "held", "too few"]


def test_reset_clears_the_held_cut_and_the_pool():
    window = ScoreWindow(ThresholdConfig(window_frames=5))
    window.threshold(RICH)
    window.reset()
    result = window.threshold(THIN)
    assert result.reason == "too few" and result.scores == 2


def test_no_scores_keep_the_floor_and_age_the_hold():
    window = _per_frame(hold_frames=1)
    window.threshold(RICH)
    assert window.threshold([]).reason == "no scores"
    assert window.threshold(THIN).reason == "too few"  # the empty frame used up the hold


def test_scene_change_to_weak_objects_only_re_adapts_within_window_plus_hold():
    """Confident objects among noise (cut near 0.5), then a scene of only weak true objects
    (Beta(30, 50), mean 0.375): while the old scores are in the pool or the cut is held they are cut; once the
    pool is one mode and hold_frames have passed, all of them are kept, for good."""
    cfg = ThresholdConfig()
    window = ScoreWindow(cfg)
    rng = np.random.default_rng(0)
    for _ in range(40):
        window.threshold(np.concatenate([rng.uniform(0.8, 0.95, 4), rng.uniform(0.02, 0.15, 8)]))
    kept_all = []
    for _ in range(cfg.window_frames + cfg.hold_frames + 20):
        scores = rng.beta(30, 50, 5)
        kept_all.append(bool(np.all(scores >= window.threshold(scores).theta_final)))
    limit = cfg.window_frames + cfg.hold_frames
    assert not kept_all[0]  # right after the change the old cut applies
    assert all(kept_all[limit:]), kept_all


def test_cold_start_small_mixed_pools_are_cut():
    """The first frames of a stream: a pool of 8-20 scores, objects (Beta(8, 2)) and false
    positives (Beta(2, 6)) half and half, is too small for BIC to prove two modes; the spread
    bound of the one-mode test still calls it two populations and cuts most false positives."""
    rng = np.random.default_rng(1)
    fp_kept = fp_total = tp_kept = tp_total = 0
    for _ in range(40):
        window = ScoreWindow(ThresholdConfig())
        n = int(rng.integers(4, 10))
        pos, neg = rng.beta(8, 2, n), rng.beta(2, 6, n)
        theta = window.threshold(np.concatenate([pos, neg])).theta_final
        fp_kept, fp_total = fp_kept + int(np.sum(neg >= theta)), fp_total + n
        tp_kept, tp_total = tp_kept + int(np.sum(pos >= theta)), tp_total + n
    assert fp_kept / fp_total <= 0.2 and tp_kept / tp_total >= 0.9, (fp_kept / fp_total, tp_kept / tp_total)


def test_hold_frames_must_not_be_negative():
    with pytest.raises(ConfigError, match="hold_frames must be >= 0"):
        ThresholdConfig(hold_frames=-1)


class ScriptedDetector(DetectorBackend):
    """Returns the next scripted score list on fixed, well separated boxes."""

    def __init__(self, script, **kwargs):
        super().__init__(**kwargs)
        self.script = list(script)

    def _predict(self, image, class_names):
        scores = np.asarray(self.script.pop(0), float)
        x = np.arange(len(scores), dtype=float) * 6
        boxes = np.stack([x, np.zeros_like(x), x + 5, np.full_like(x, 5)], axis=1)
        return RawDetections(boxes, scores, np.zeros(len(scores), int))


def _smart_od(script) -> SmartOD:
    config = SmartODConfig.from_dict({"generate_masks": False, "slicing.enabled": False,
                                      "detector.class_names": ["thing"], "threshold.window_frames": 1})
    return SmartOD(config, ScriptedDetector(script))


@pytest.mark.parametrize("forget", ["reset", "set_classes"])
def test_smart_od_holds_the_cut_per_instance_until_reset(forget):
    image = np.zeros((40, 100, 3), np.uint8)
    od = _smart_od([RICH, THIN, RICH, THIN])
    od.detect(image)
    held = od.detect(image)
    assert held.diagnostics.threshold.reason == "held"
    assert sorted(i.score for i in held.instances) == pytest.approx([0.9])
    od.detect(image)
    od.reset() if forget == "reset" else od.set_classes(["thing"])
    fresh = od.detect(image)
    assert fresh.diagnostics.threshold.reason == "too few" and len(fresh.instances) == 2
    other = _smart_od([THIN])  # a second stream has its own state
    assert other.detect(image).diagnostics.threshold.reason == "too few"
