"""Dynamic score thresholds from one frame's own score distribution (no per-frame tuning).

Methods (``ThresholdConfig.method``), all on the frame's detection scores S:
- ``mean_std``: mu - sigma of S.
- ``kmeans``: 1-D k-means (k = ``kmeans_k``); the lowest score of the two highest clusters.
- ``kmeans_mean_std``: the same k-means; mu_l + 2 sigma_l of the lowest cluster (the noise).
- ``two_stage``: 2-means splits noise from candidates; the candidates are split again only when
  they form two modes themselves, and the threshold is the lowest score of the upper group.
- ``fixed``: ``fixed_threshold`` (the hand-tuned baseline).
The final threshold is max(theta_dynamic, theta_min). ``ScoreWindow`` pools the scores of the
last ``window_frames`` frames before computing it (our addition: per-frame pools are small).

Degenerate frames: no scores -> theta_min; fewer than ``min_scores`` scores, or one mode
(``unimodal_guard``: a one-component Gaussian mixture has a lower BIC than two), -> no cut
(theta_dynamic = min S), so a frame of only confident detections keeps them all and theta_min
alone removes a frame of only weak ones. The guard and the two-stage split use scikit-learn's
GaussianMixture and KMeans.
"""

from __future__ import annotations

import warnings
from collections import deque
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from sam2auto_ros.smart_od.config import ThresholdConfig

_COVARIANCE_FLOOR = 1e-4  # (score units)^2: keeps mixtures of near-equal scores well posed
# Two modes need "strong" evidence (BIC difference > 6, Kass & Raftery): skewed single-mode
# score distributions (objects only, Beta(8, 2)) otherwise fit two Gaussians slightly better.
_BIC_MARGIN = 6.0


@dataclass(frozen=True)
class ThresholdResult:
    method: str
    theta_dynamic: float
    theta_final: float
    scores: int
    reason: str  # why theta_dynamic is what it is ("method", "no scores", "too few", "one mode")


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


def is_one_mode(scores: np.ndarray) -> bool:
    """True unless a mixture of two Gaussians explains the scores clearly better (BIC) than one."""
    if len(np.unique(scores)) < 2:
        return True
    x = scores[:, None]
    bic = [
        GaussianMixture(n, reg_covar=_COVARIANCE_FLOOR, means_init=_quantile_centres(scores, n)).fit(x).bic(x)
        for n in (1, 2)
    ]
    return bool(bic[0] <= bic[1] + _BIC_MARGIN)


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
    if len(candidates) >= cfg.min_scores and not is_one_mode(candidates):
        sub_labels, _ = _kmeans_labels(candidates, 2)
        candidates = candidates[sub_labels == sub_labels.max()]
    return float(candidates.min())


_METHODS = {
    "mean_std": _mean_std,
    "kmeans": _kmeans,
    "kmeans_mean_std": _kmeans_mean_std,
    "two_stage": _two_stage,
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
    return ThresholdResult(cfg.method, float(theta), float(max(theta, cfg.theta_min)), len(s), reason)



class ScoreWindow:
    """The scores of the last ``window_frames`` frames; thresholds are computed on the pool."""

    def __init__(self, config: ThresholdConfig | None = None) -> None:
        self.config = config or ThresholdConfig()
        self._frames: deque[np.ndarray] = deque(maxlen=self.config.window_frames)

    def threshold(self, scores) -> ThresholdResult:
        """Add this frame's scores and return the threshold of the pooled window."""
        s = np.asarray(scores, dtype=np.float64).reshape(-1)
        if self._frames.maxlen != self.config.window_frames:
            self._frames = deque(self._frames, maxlen=self.config.window_frames)
        self._frames.append(s[np.isfinite(s)])
        return dynamic_threshold(np.concatenate(list(self._frames)), self.config)

    def reset(self) -> None:
        """Forget the pool (a new sequence, or a changed vocabulary)."""
        self._frames.clear()
