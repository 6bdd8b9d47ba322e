"""Dynamic thresholds on score distributions with known positives and negatives."""

from __future__ import annotations

import numpy as np
import pytest

from sam2auto_ros.smart_od.config import THRESHOLD_METHODS, ThresholdConfig
from sam2auto_ros.smart_od.thresholds import dynamic_threshold, is_one_mode

DYNAMIC = [m for m in THRESHOLD_METHODS if m != "fixed"]


def _frame(rng, n_pos, n_neg, pos=(8, 2), neg=(1.5, 12)):
    scores = np.concatenate([rng.beta(*pos, n_pos), rng.beta(*neg, n_neg)])
    return scores, np.concatenate([np.ones(n_pos, bool), np.zeros(n_neg, bool)])


def _precision_recall(frames, method):
    tp = fp = fn = 0
    for scores, truth in frames:
        keep = scores >= dynamic_threshold(scores, ThresholdConfig(method=method)).theta_final
        tp += np.sum(keep & truth)
        fp += np.sum(keep & ~truth)
        fn += np.sum(~keep & truth)
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1)


def _noisy_frames():
    """Confident objects (Beta(8,2), mean .8) among detector noise (Beta(1.5,12), mean .11)."""
    rng = np.random.default_rng(0)
    return [_frame(rng, rng.integers(2, 10), rng.integers(5, 30)) for _ in range(25)]


def test_two_stage_separates_objects_from_noise():
    precision, recall = _precision_recall(_noisy_frames(), "two_stage")
    assert precision >= 0.95 and recall >= 0.9, (precision, recall)


@pytest.mark.parametrize("method", ["mean_std", "kmeans", "kmeans_mean_std"])
def test_single_cut_methods_keep_objects_but_let_the_noise_tail_through(method):
    """Measured behaviour of the paper's one-cut rules when noise dominates a frame: every object
    kept, but mu - sigma, the middle k-means cluster and the noise cluster's mu + 2 sigma all fall
    inside the noise, so only theta_min removes it (precision well below two_stage's)."""
    frames = _noisy_frames()
    precision, recall = _precision_recall(frames, method)
    keep_all = sum(t.sum() for _, t in frames) / sum(len(t) for _, t in frames)
    assert recall >= 0.98 and keep_all < precision < 0.9, (precision, recall, keep_all)


@pytest.mark.parametrize("method", DYNAMIC)
def test_single_class_frames_keep_their_objects(method):
    """Frames of only true objects: the unimodal guard keeps (nearly) all of them."""
    rng = np.random.default_rng(1)
    frames = [_frame(rng, rng.integers(4, 15), 0) for _ in range(25)]
    _, recall = _precision_recall(frames, method)
    assert recall >= 0.9, recall


@pytest.mark.parametrize("method", DYNAMIC)
def test_all_low_frames_are_removed_by_the_floor(method):
    rng = np.random.default_rng(2)
    frames = [_frame(rng, 0, rng.integers(5, 30), neg=(2, 30)) for _ in range(25)]  # mean .06
    kept = sum(int(np.sum(s >= dynamic_threshold(s, ThresholdConfig(method=method)).theta_final)) for s, _ in frames)
    total = sum(len(s) for s, _ in frames)
    assert kept / total <= 0.01


@pytest.mark.parametrize("method", DYNAMIC)
def test_all_high_frames_keep_everything(method):
    scores = np.random.default_rng(3).uniform(0.85, 0.95, 12)
    result = dynamic_threshold(scores, ThresholdConfig(method=method))
    assert result.reason == "one mode" and np.all(scores >= result.theta_final)


@pytest.mark.parametrize("method", THRESHOLD_METHODS)
@pytest.mark.parametrize(
    "scores",
    [[], [0.7], [0.1], [0.5, 0.5, 0.5, 0.5, 0.5], [0.9, np.nan, 0.8, np.inf], [0.0, 1.0, 0.0, 1.0], [0.3, 0.9]],
)
def test_degenerate_input_gives_a_threshold(method, scores):
    cfg = ThresholdConfig(method=method)
    result = dynamic_threshold(np.array(scores, dtype=float), cfg)
    assert np.isfinite(result.theta_final) and cfg.theta_min <= result.theta_final <= 1.0
    ceiling = 1.0 if method == "fixed" else cfg.theta_max
    assert result.theta_final == max(min(result.theta_dynamic, ceiling), cfg.theta_min)


def test_empty_and_single_detections():
    assert dynamic_threshold([], ThresholdConfig(theta_min=0.25)).theta_final == 0.25
    one = dynamic_threshold([0.7])
    assert one.reason == "too few" and one.theta_final <= 0.7
    assert dynamic_threshold([0.15]).theta_final > 0.15  # below the floor: removed


def test_method_formulas_on_a_fixed_frame():
    """The formulas themselves, guard off, on three clean clusters."""
    scores = np.array([0.05, 0.06, 0.07, 0.08, 0.40, 0.42, 0.44, 0.85, 0.9, 0.95])
    cfg = dict(unimodal_guard=False, theta_min=0.0)
    assert dynamic_threshold(scores, ThresholdConfig(method="mean_std", **cfg)).theta_dynamic == pytest.approx(scores.mean() - scores.std())
    assert dynamic_threshold(scores, ThresholdConfig(method="kmeans", **cfg)).theta_dynamic == pytest.approx(0.40)
    low = scores[:4]
    assert dynamic_threshold(scores, ThresholdConfig(method="kmeans_mean_std", **cfg)).theta_dynamic == pytest.approx(low.mean() + 2 * low.std())
    # two-stage: 2-means splits {.05-.08} from the rest; the rest is two modes -> {.85-.95}
    assert dynamic_threshold(scores, ThresholdConfig(method="two_stage", **cfg)).theta_dynamic == pytest.approx(0.85)
    assert dynamic_threshold(scores, ThresholdConfig(method="fixed", fixed_threshold=0.33)).theta_final == pytest.approx(0.33)


def test_one_mode_test():
    rng = np.random.default_rng(4)
    assert is_one_mode(rng.normal(0.6, 0.05, 60))
    assert not is_one_mode(np.concatenate([rng.normal(0.1, 0.03, 30), rng.normal(0.8, 0.05, 30)]))


def test_score_window_pools_recent_frames():
    from sam2auto_ros.smart_od.thresholds import ScoreWindow

    window = ScoreWindow(ThresholdConfig(window_frames=3))
    for scores in ([0.9], [0.1], [0.8], [0.15]):
        result = window.threshold(scores)
    assert result.scores == 3  # the first frame fell out
    window.reset()
    assert window.threshold([0.5]).scores == 1


def test_pooling_helps_sparse_frames():
    """Frames of 1-3 objects among a little noise: per frame there is nothing to cluster, a
    pooled window has enough scores to find the noise/object split."""
    from sam2auto_ros.smart_od.thresholds import ScoreWindow

    rng = np.random.default_rng(5)
    frames = [_frame(rng, rng.integers(0, 3), rng.integers(1, 4), neg=(3, 6)) for _ in range(30)]

    def f1(window_frames):
        window = ScoreWindow(ThresholdConfig(window_frames=window_frames))
        tp = fp = fn = 0
        for scores, truth in frames:
            keep = scores >= window.threshold(scores).theta_final
            tp, fp, fn = tp + np.sum(keep & truth), fp + np.sum(keep & ~truth), fn + np.sum(~keep & truth)
        return 2 * tp / (2 * tp + fp + fn)

    assert f1(30) > f1(1) + 0.05


def test_kmeans_bayes_separates_objects_from_noise():
    precision, recall = _precision_recall(_noisy_frames(), "kmeans_bayes")
    assert precision >= 0.95 and recall >= 0.9, (precision, recall)


def test_kmeans_bayes_boundary_formula():
    """Two clean clusters: the cut is the shared-variance Bayes boundary with the sizes as priors."""
    low = np.array([0.05, 0.08, 0.1, 0.12, 0.15, 0.1, 0.07, 0.13])
    high = np.array([0.7, 0.8, 0.9])
    scores = np.concatenate([low, high])
    var = (low.var() * len(low) + high.var() * len(high)) / len(scores)
    expected = (low.mean() + high.mean()) / 2 + var / (high.mean() - low.mean()) * np.log(len(low) / len(high))
    cfg = ThresholdConfig(method="kmeans_bayes", unimodal_guard=False, theta_min=0.0)
    assert dynamic_threshold(scores, cfg).theta_dynamic == pytest.approx(expected)


def test_kmeans_bayes_cut_rises_with_the_noise_share():
    """Same objects, ten times the noise: the cut moves further above the half-way point of plain
    2-means (the noise's upper tail grows with its count), and stays between the two centres."""
    from sam2auto_ros.smart_od.thresholds import _kmeans_labels

    rng = np.random.default_rng(6)
    objects = rng.beta(6, 3, 60)
    cfg = ThresholdConfig(method="kmeans_bayes", unimodal_guard=False, theta_min=0.0)
    above_midpoint = []
    for n in (60, 600):
        scores = np.concatenate([objects, rng.beta(1.5, 12, n)])
        _, centres = _kmeans_labels(scores, 2)
        cut = dynamic_threshold(scores, cfg).theta_dynamic
        assert centres[0] < cut < centres[1]
        above_midpoint.append(cut - centres.mean())
    assert above_midpoint[1] > above_midpoint[0] + 0.02, above_midpoint


def test_kmeans_bayes_handles_one_cluster_without_guard():
    cfg = ThresholdConfig(method="kmeans_bayes", unimodal_guard=False, theta_min=0.0)
    assert dynamic_threshold([0.4, 0.4, 0.4, 0.4], cfg).theta_dynamic == pytest.approx(0.4)
    assert dynamic_threshold([0.0, 1.0, 0.0, 1.0], cfg).theta_dynamic == pytest.approx(0.5)


def test_one_mode_test_on_skewed_and_small_pools():
    """A pooled window of only confident objects is skewed (Beta(9, 2)): one mode (a Gaussian
    test called it two and cut 30 % of the objects). A small pool of noise and objects spread
    over [0, 1] is two modes even when too small for BIC to prove it."""
    rng = np.random.default_rng(7)
    assert all(is_one_mode(rng.beta(9, 2, 180)) for _ in range(5))
    assert all(is_one_mode(rng.beta(1.5, 12, 300)) for _ in range(5))
    small = np.array([0.05, 0.12, 0.2, 0.28, 0.33, 0.41, 0.62, 0.7, 0.78, 0.85, 0.9, 0.95])
    assert not is_one_mode(small)


def test_beta_mixture_recovers_known_components():
    from sam2auto_ros.smart_od.thresholds import fit_beta_mixture

    rng = np.random.default_rng(8)
    scores = np.concatenate([rng.beta(2, 6, 1000), rng.beta(8, 2, 1000)])
    _, shapes, weights = fit_beta_mixture(scores, 2)
    means = shapes[:, 0] / shapes.sum(axis=1)
    order = np.argsort(means)
    assert means[order] == pytest.approx([0.25, 0.8], abs=0.03)
    assert weights[order] == pytest.approx([0.5, 0.5], abs=0.05)


def test_default_pooled_window_keeps_objects_only_streams():
    """30 frames of only true objects through the default pooled window: nearly all kept."""
    from sam2auto_ros.smart_od.thresholds import ScoreWindow

    rng = np.random.default_rng(9)
    window = ScoreWindow(ThresholdConfig())
    kept = total = 0
    for _ in range(40):
        scores = rng.beta(9, 2, rng.poisson(6))
        kept += int(np.sum(scores >= window.threshold(scores).theta_final))
        total += len(scores)
    assert kept / total >= 0.98, kept / total


@pytest.mark.parametrize("method", DYNAMIC)
@pytest.mark.parametrize("scores", [[0.5, 0.5, 0.5, 0.5, 0.5], [0.0, 1.0, 0.0, 1.0], [0.3, 0.3, 0.9, 0.9, np.nan]])
def test_degenerate_input_without_guard(method, scores):
    cfg = ThresholdConfig(method=method, unimodal_guard=False)
    result = dynamic_threshold(np.array(scores, dtype=float), cfg)
    assert np.isfinite(result.theta_final) and cfg.theta_min <= result.theta_final <= 1.0


@pytest.mark.parametrize("method", DYNAMIC)
def test_steady_confident_objects_are_never_cut(method):
    """A static camera: two objects scored 0.9 and 0.85 frame after frame pool into two tight
    modes; without the theta_max ceiling every method would cut the weaker object as noise."""
    from sam2auto_ros.smart_od.thresholds import ScoreWindow

    window = ScoreWindow(ThresholdConfig(method=method))
    for _ in range(30):
        result = window.threshold([0.9, 0.85, 0.1])
    assert result.theta_final <= 0.85
    uncapped = ScoreWindow(ThresholdConfig(method=method, theta_max=1.0))
    for _ in range(30):
        capped_off = uncapped.threshold([0.9, 0.85, 0.1])
    assert capped_off.theta_final == pytest.approx(max(capped_off.theta_dynamic, 0.2))  # the ceiling is what saves it


def test_theta_max_must_not_be_below_the_floor():
    from sam2auto_ros.smart_od.config import ConfigError

    with pytest.raises(ConfigError, match="theta_max must be >= "):
        ThresholdConfig(theta_min=0.5, theta_max=0.4)


def test_one_mode_test_power_on_small_pools():
    """Small pools decide a stream's first frames. Two populations (objects Beta(8, 2) and false
    positives Beta(2, 6), half and half, 8-30 scores) must mostly be called two modes, while
    single populations as broad as Beta(4, 4) or Beta(2, 6) must stay one mode."""
    rng = np.random.default_rng(10)
    mixed = [is_one_mode(np.concatenate([rng.beta(8, 2, n), rng.beta(2, 6, n)])) for n in (4, 8, 15) for _ in range(30)]
    assert np.mean(mixed) <= 0.1, np.mean(mixed)
    for shape in ((4, 4), (2, 6), (9, 2), (6, 3)):
        single = [is_one_mode(rng.beta(*shape, n)) for n in (8, 15, 30) for _ in range(20)]
        assert np.mean(single) >= 0.95, (shape, np.mean(single))
