"""Dynamic score thresholds from one frame's own score distribution (no per-frame tuning).

Methods (``ThresholdConfig.method``), all on the frame's detection scores S:
- ``mean_std``: mu - sigma of S.
- ``kmeans``: 1-D k-means (k = ``kmeans_k``); the lowest score of the two highest clusters.
- ``kmeans_mean_std``: the same k-means; mu_l + 2 sigma_l of the lowest cluster (the noise).
- ``two_stage``: 2-means splits noise from candidates; the candidates are split again only when
  they form two modes themselves, and the threshold is the lowest score of the upper group.
- ``kmeans_bayes`` (default): 2-means splits noise from candidates; the cut is the Bayes boundary
  between the two clusters modelled as Gaussians of one shared variance with the cluster sizes as
  priors (linear discriminant). Plain 2-means cuts half-way between the centres; when noise
  outnumbers the candidates, the noise's upper tail carries past that point, and the size prior
  moves the cut up by exactly as much as the imbalance warrants (no parameter).
- ``fixed``: ``fixed_threshold`` (the hand-tuned baseline).
The final threshold is max(min(theta_dynamic, theta_max), theta_min). ``ScoreWindow`` pools the
scores of the last ``window_frames`` frames of one stream before computing it (our addition:
per-frame pools are small), and carries its last statistical cut through up to ``hold_frames``
frames whose pool cannot support one (below).

Degenerate frames: no scores -> theta_min; fewer than ``min_scores`` scores, or one mode
(``unimodal_guard``), -> no cut (theta_dynamic = min S), so a frame of only confident
detections keeps them all and theta_min alone removes a frame of only weak ones. In a stream,
such a verdict mostly means thin evidence (a small or briefly lopsided pool), not that the
detector changed: ``ScoreWindow`` then keeps the cut its pool last supported ("held") until
``hold_frames`` frames have passed without a new one, after which the verdict stands.

The one-mode test compares a single Beta distribution with a mixture of two Betas (BIC). Scores
live on [0, 1] and single score populations are skewed (confident objects Beta(9, 2), noise
Beta(1.5, 12)); a Gaussian test mistook such skew for a second mode (a pooled window of only
true objects lost 30 % of them). A single Beta fit too spread out for any one score population
(a + b <= 3, e.g. flat or U-shaped) is two modes as well: a small pool of objects and false
positives, where BIC has too little data to prove it. scikit-learn has no Beta mixture, so the
EM below is ours (method-of-moments M step); k-means is scikit-learn's.
"""

from __future__ import annotations

import warnings
from collections import deque
from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, logsumexp
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from sam2auto_ros.smart_od.config import ThresholdConfig

_SCORE_EPS = 1e-4  # scores are clipped into (0, 1) where the Beta log-density is finite
_VARIANCE_FLOOR = 1e-6  # (score units)^2: keeps a component of near-equal scores well posed
_EM_ITERATIONS = 200
_EM_TOLERANCE = 1e-6  # mean log-likelihood gain per score below which EM stops
_COVARIANCE_FLOOR = 1e-4  # (score units)^2, two_stage's Gaussian split test
# Two modes need "strong" evidence (BIC difference > 6, Kass & Raftery): a flat band of a dozen
# confident scores otherwise fits two components slightly better than one.
_BIC_MARGIN = 6.0
# A single Beta fit this unconcentrated (a + b <= 3: sd >= 0.25 at mean 0.5) is two populations,
# not one: no single score population we draw or know of is that broad (single Beta(9, 2),
# Beta(6, 3), Beta(4, 4), Beta(2, 6), Beta(1.5, 12) pools of 8-60 scores fit a + b > 3 in 200 of
# 200 draws each), while small pools of objects and false positives (Beta(8, 2) + Beta(2, 6), 8-60
# scores) fit a + b <= 3 in 78-100 % of draws, and BIC cannot prove two modes in so few. The
# flat/U-shaped bound a + b <= 2 used before caught only 45-90 % of them: the other cold-start
# pools were called one mode and every false positive above theta_min passed.
_SPREAD_CONCENTRATION = 3.0


@dataclass(frozen=True)
class ThresholdResult:
    method: str
    theta_dynamic: float
    theta_final: float
    scores: int
    # why theta_dynamic is what it is: "method", "no scores", "too few", "one mode", "fixed", or
    # "held" (ScoreWindow: the last "method" cut, carried through a "too few"/"one mode" pool)
    reason: str


def _quantile_centres(scores: np.ndarray, k: int) -> np.ndarray:
    """Deterministic start: the k quantiles at the centres of k equal-count bins (1-D k-means
    from there converges to the same clusters as many random restarts, at a fraction of the time)."""
    return np.quantile(scores, (np.arange(k) + 0.5) / k)[:, None]


def _kmeans_labels(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Cluster labels re-numbered so that 0 is the lowest-centre cluster, and the centres."""
    k = min(k, len(np.unique(scores)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        km = KMeans(n_clusters=k, init=_quantile_centres(scores, k), n_init=1).fit(scores[:, None])
    order = np.argsort(km.cluster_centers_[:, 0])
    rank = np.empty_like(order)
    rank[order] = np.arange(k)
    return rank[km.labels_], km.cluster_centers_[order, 0]


def _beta_moments(scores: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Beta(a, b) with the weighted mean and variance of ``scores`` (method of moments)."""
    total = weights.sum()
    mean = float(np.dot(weights, scores) / total) if total > 0 else float(scores.mean())
    var = float(np.dot(weights, (scores - mean) ** 2) / total) if total > 0 else float(scores.var())
    var = min(max(var, _VARIANCE_FLOOR), 0.99 * mean * (1.0 - mean))
    common = mean * (1.0 - mean) / var - 1.0
    return mean * common, (1.0 - mean) * common


def fit_beta_mixture(scores: np.ndarray, k: int) -> tuple[float, np.ndarray, np.ndarray]:
    """EM for a k-component Beta mixture on scores in (0, 1), started from k equal-count score
    bins (deterministic). Returns the log-likelihood, the (k, 2) shape parameters and the weights."""
    log_s, log_1s = np.log(scores), np.log1p(-scores)
    ranks = np.argsort(np.argsort(scores, kind="stable"), kind="stable")
    resp = np.eye(k)[(ranks * k) // len(scores)]
    previous = -np.inf
    for _ in range(_EM_ITERATIONS):
        weights = np.maximum(resp.mean(axis=0), 1e-12)
        shapes = np.array([_beta_moments(scores, resp[:, j]) for j in range(k)])
        a, b = shapes[:, 0], shapes[:, 1]
        log_joint = np.log(weights) + (a - 1.0) * log_s[:, None] + (b - 1.0) * log_1s[:, None] - betaln(a, b)
        log_density = logsumexp(log_joint, axis=1)
        loglik = float(log_density.sum())
        resp = np.exp(log_joint - log_density[:, None])
        if loglik - previous < _EM_TOLERANCE * len(scores):
            break
        previous = loglik
    return loglik, shapes, weights


def is_one_mode(scores: np.ndarray) -> bool:
    """True unless the scores form two modes: a two-Beta mixture has a clearly lower BIC, or the
    scores are too spread out for one score population (single Beta fit with
    a + b <= ``_SPREAD_CONCENTRATION``), as a small pool of noise and objects is."""
    s = np.clip(np.asarray(scores, dtype=np.float64), _SCORE_EPS, 1.0 - _SCORE_EPS)
    if len(np.unique(s)) < 2:
        return True
    one, shapes, _ = fit_beta_mixture(s, 1)
    if shapes.sum() <= _SPREAD_CONCENTRATION:
        return False
    two = fit_beta_mixture(s, 2)[0]
    log_n = np.log(len(s))
    return bool(-2.0 * one + 2 * log_n <= -2.0 * two + 5 * log_n + _BIC_MARGIN)


def _candidates_split(candidates: np.ndarray) -> bool:
    """two_stage's own test (as published with it): two Gaussians beat one by a clear BIC margin."""
    if len(np.unique(candidates)) < 2:
        return False
    x = candidates[:, None]
    bic = [
        GaussianMixture(n, reg_covar=_COVARIANCE_FLOOR, means_init=_quantile_centres(candidates, n)).fit(x).bic(x)
        for n in (1, 2)
    ]
    return bool(bic[1] + _BIC_MARGIN < bic[0])


def _mean_std(scores: np.ndarray, cfg: ThresholdConfig) -> float:
    return float(scores.mean() - scores.std())


def _kmeans(scores: np.ndarray, cfg: ThresholdConfig) -> float:
    labels, _ = _kmeans_labels(scores, cfg.kmeans_k)
    top_two = labels >= labels.max() - 1
    return float(scores[top_two].min())


def _kmeans_mean_std(scores: np.ndarray, cfg: ThresholdConfig) -> float:
    labels, _ = _kmeans_labels(scores, cfg.kmeans_k)
    low = scores[labels == 0]
    return float(low.mean() + 2.0 * low.std())


def _two_stage(scores: np.ndarray, cfg: ThresholdConfig) -> float:
    labels, _ = _kmeans_labels(scores, 2)
    candidates = scores[labels == labels.max()]
    if len(candidates) >= cfg.min_scores and _candidates_split(candidates):
        sub_labels, _ = _kmeans_labels(candidates, 2)
        candidates = candidates[sub_labels == sub_labels.max()]
    return float(candidates.min())


def _kmeans_bayes(scores: np.ndarray, cfg: ThresholdConfig) -> float:
    labels, _ = _kmeans_labels(scores, 2)
    low, high = scores[labels == 0], scores[labels == 1]
    if len(low) == 0 or len(high) == 0 or high.mean() <= low.mean():
        return float(scores.min())
    shared_var = (low.var() * len(low) + high.var() * len(high)) / len(scores)
    gap = high.mean() - low.mean()
    cut = (low.mean() + high.mean()) / 2.0 + shared_var / gap * np.log(len(low) / len(high))
    # A cut beyond either centre would contradict the partition it came from.
    return float(np.clip(cut, low.mean(), high.mean()))


_METHODS = {
    "mean_std": _mean_std,
    "kmeans": _kmeans,
    "kmeans_mean_std": _kmeans_mean_std,
    "two_stage": _two_stage,
    "kmeans_bayes": _kmeans_bayes,
}


def dynamic_threshold(scores, config: ThresholdConfig | None = None) -> ThresholdResult:
    """The frame's threshold for ``scores`` (non-finite scores are ignored)."""
    cfg = config or ThresholdConfig()
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    s = s[np.isfinite(s)]
    if cfg.method == "fixed":
        theta, reason = cfg.fixed_threshold, "fixed"
    elif len(s) == 0:
        theta, reason = cfg.theta_min, "no scores"
    elif len(s) < cfg.min_scores:
        theta, reason = float(s.min()), "too few"
    elif cfg.unimodal_guard and is_one_mode(s):
        theta, reason = float(s.min()), "one mode"
    else:
        theta, reason = _METHODS[cfg.method](s, cfg), "method"
    return ThresholdResult(cfg.method, float(theta), _final(theta, cfg), len(s), reason)


def _final(theta: float, cfg: ThresholdConfig) -> float:
    """theta clamped to [theta_min, theta_max] (the ceiling does not apply to method "fixed")."""
    capped = theta if cfg.method == "fixed" else min(theta, cfg.theta_max)
    return float(max(capped, cfg.theta_min))


class ScoreWindow:
    """One stream's threshold state: the scores of its last ``window_frames`` frames (thresholds
    are computed on the pool) and its last statistical cut, held through thin evidence."""

    _THIN = ("too few", "one mode")  # verdicts a held cut overrides

    def __init__(self, config: ThresholdConfig | None = None) -> None:
        self.config = config or ThresholdConfig()
        self._frames: deque[np.ndarray] = deque(maxlen=self.config.window_frames)
        self._held: float | None = None  # theta_dynamic of the last "method" verdict
        self._since_held = 0  # frames since that verdict

    def threshold(self, scores) -> ThresholdResult:
        """Add this frame's scores and return the threshold of the pooled window."""
        cfg = self.config
        s = np.asarray(scores, dtype=np.float64).reshape(-1)
        if self._frames.maxlen != cfg.window_frames:
            self._frames = deque(self._frames, maxlen=cfg.window_frames)
        self._frames.append(s[np.isfinite(s)])
        result = dynamic_threshold(np.concatenate(list(self._frames)), cfg)
        if result.reason == "method":
            self._held, self._since_held = result.theta_dynamic, 0
            return result
        self._since_held += 1
        if self._held is None or self._since_held > cfg.hold_frames or result.reason not in self._THIN:
            return result
        return ThresholdResult(result.method, self._held, _final(self._held, cfg), result.scores, "held")

    def reset(self) -> None:
        """Forget the pool and the held cut (a new sequence, or a changed vocabulary)."""
        self._frames.clear()
        self._held, self._since_held = None, 0
