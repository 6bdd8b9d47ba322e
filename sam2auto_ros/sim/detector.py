"""A detector noise model: turns ground truth into the imperfect detections a real one emits.

Misses come in bursts (a detector that loses an object tends to lose it for a while): after
each detection of an object, a gap of 1..``max_gap`` frames starts with the probability that
makes the long-run miss fraction equal ``miss_rate``. Gaps advance only on frames where the
object is in the ground truth, so a gap never exceeds ``max_gap`` frames of a present object.
False positives are pieces of real objects (duplicates FLASH must suppress) or background blobs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

import cv2
import numpy as np

from sam2auto_ros.core import FrameInstances, Instance, InstanceStatus, RleMask
from sam2auto_ros.sim.appearance import CLASS_NAMES


@dataclass(frozen=True)
class DetectorNoise:
    """How a simulated detector errs. Scores are drawn from Beta(a, b) distributions."""

    miss_rate: float = 0.0  # long-run fraction of present objects left undetected
    max_gap: int = 1  # misses come in bursts of 1..max_gap consecutive frames (uniform)
    false_positive_rate: float = 0.0  # expected fraction of emitted detections that are false
    tp_score: tuple[float, float] = (8.0, 2.0)  # Beta(a, b) for true positives, mean 0.8
    fp_score: tuple[float, float] = (3.0, 4.0)  # Beta(a, b) for false positives, mean 0.43
    box_jitter: float = 0.0  # std of each box edge, as a fraction of the box's width/height
    mask_morph: int = 0  # each mask eroded or dilated by up to this many pixels
    mask_edge_noise: float = 0.0  # ragged mask boundary, 0 (clean) .. 1 (very ragged)
    fp_fragment_fraction: float = 0.5  # share of false positives that are pieces of real objects
    label_flip_rate: float = 0.0  # probability that a true positive carries a wrong label
    min_area: int = 16  # objects with fewer visible pixels are never detected
    labels: tuple[str, ...] = CLASS_NAMES  # the detector's vocabulary (class_id = index)
    seed: int = 0

    def __post_init__(self) -> None:
        problems = []
        if self.max_gap < 1:
            problems.append("max_gap must be >= 1")
        mean_gap = (1 + self.max_gap) / 2
        ceiling = mean_gap / (1 + mean_gap)
        if not 0.0 <= self.miss_rate <= ceiling:
            problems.append(
                f"miss_rate {self.miss_rate} must be in [0, {ceiling:.3f}] for max_gap={self.max_gap} "
                "(at least one detection separates two gaps); raise max_gap for more misses"
            )
        if not 0.0 <= self.false_positive_rate < 1.0:
            problems.append("false_positive_rate must be in [0, 1)")
        for name in ("fp_fragment_fraction", "label_flip_rate", "mask_edge_noise"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be in [0, 1]")
        if min(*self.tp_score, *self.fp_score) <= 0:
            problems.append("Beta score parameters must be > 0")
        if self.box_jitter < 0 or self.mask_morph < 0 or self.min_area < 1:
            problems.append("box_jitter and mask_morph must be >= 0, min_area >= 1")
        if not self.labels:
            problems.append("labels must not be empty")
        if problems:
            raise ValueError("invalid DetectorNoise: " + "; ".join(problems))

    @property
    def gap_start_probability(self) -> float:
        """Per-detection chance that a gap follows, giving ``miss_rate`` in the long run."""
        if self.miss_rate == 0.0:
            return 0.0
        mean_gap = (1 + self.max_gap) / 2
        return min(self.miss_rate / (mean_gap * (1 - self.miss_rate)), 1.0)


NOISE_PRESETS = MappingProxyType(
    {
        "perfect": DetectorNoise(),
        "mild": DetectorNoise(
            miss_rate=0.1, max_gap=5, false_positive_rate=0.02, box_jitter=0.02, mask_morph=1, mask_edge_noise=0.3
        ),
        # issue 6's benchmark setting: 30 % of detections missing in gaps of up to 15 frames, 5 % FPs
        "benchmark": DetectorNoise(
            miss_rate=0.3, max_gap=15, false_positive_rate=0.05, box_jitter=0.03, mask_morph=2, mask_edge_noise=0.5
        ),
    }
)


def noise_preset(name: str, **overrides) -> DetectorNoise:
    from dataclasses import replace

    try:
        base = NOISE_PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown noise preset {name!r}; choose one of {', '.join(NOISE_PRESETS)}") from None
    return replace(base, **overrides)


@dataclass
class NoisyDetector:
    """Stateful per sequence: call ``detect`` once per frame, in order; ``reset`` between sequences."""

    noise: DetectorNoise = field(default_factory=DetectorNoise)
    sequence_seed: int = 0  # mixed with ``noise.seed`` so each scene gets its own draws

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._rng = np.random.default_rng((self.noise.seed, self.sequence_seed))
        self._gap_left: dict[int, int] = {}

    def detect(self, gt: FrameInstances) -> FrameInstances:
        """Detections for one frame: ``track_id`` -1, status DETECTION, noisy masks/boxes/scores."""
        return self.detect_with_truth(gt)[0]

    def detect_with_truth(self, gt: FrameInstances) -> tuple[FrameInstances, tuple[int, ...]]:
        """Also return, per detection, the GT id it came from (0 for a false positive)."""
        noise, rng = self.noise, self._rng
        detections: list[Instance] = []
        sources: list[int] = []
        arrays: list[np.ndarray] = []
        for inst in sorted(gt.instances, key=lambda i: i.track_id):
            if inst.mask is None:
                raise ValueError("NoisyDetector needs ground-truth masks; got an instance without one")
            left = self._gap_left.get(inst.track_id, 0)
            if left > 0:
                self._gap_left[inst.track_id] = left - 1
                continue
            if inst.mask.area < noise.min_area:
                continue
            mask = inst.mask.to_array()
            arrays.append(mask)
            label = inst.label
            if noise.label_flip_rate and rng.random() < noise.label_flip_rate:
                others = [name for name in noise.labels if name != label] or [label]
                label = str(rng.choice(others))
            score = float(rng.beta(*noise.tp_score))
            detections.append(self._instance(self._perturb(mask), label, score, gt))
            sources.append(inst.track_id)
            if rng.random() < noise.gap_start_probability:
                self._gap_left[inst.track_id] = int(rng.integers(1, noise.max_gap + 1))
        ratio = noise.false_positive_rate / (1 - noise.false_positive_rate)
        for _ in range(int(rng.poisson(ratio * len(detections))) if detections else 0):
            mask = self._false_mask(arrays, gt.height, gt.width)
            label = str(rng.choice(noise.labels))
            detections.append(self._instance(mask, label, float(rng.beta(*noise.fp_score)), gt))
            sources.append(0)
        frame = FrameInstances(gt.stamp_ns, gt.height, gt.width, tuple(detections), gt.frame_id, gt.frame_index)
        return frame, tuple(sources)

    # -- pieces -------------------------------------------------------------------------------
    def _instance(self, mask: np.ndarray, label: str, score: float, gt: FrameInstances) -> Instance:
        class_id = self.noise.labels.index(label) if label in self.noise.labels else -1
        return Instance(
            mask=RleMask.from_array(mask),
            box=self._jitter_box(mask, gt.height, gt.width),
            label=label,
            score=score,
            class_id=class_id,
            status=InstanceStatus.DETECTION,
        )

    def _perturb(self, mask: np.ndarray) -> np.ndarray:
        """Erode/dilate and roughen a mask inside its padded box; never returns an empty mask."""
        noise, rng = self.noise, self._rng
        if noise.mask_morph == 0 and noise.mask_edge_noise == 0:
            return mask
        ys, xs = np.nonzero(mask)
        pad = noise.mask_morph + 4
        y0, y1 = max(ys.min() - pad, 0), min(ys.max() + pad + 1, mask.shape[0])
        x0, x1 = max(xs.min() - pad, 0), min(xs.max() + pad + 1, mask.shape[1])
        roi = mask[y0:y1, x0:x1].astype(np.uint8)
        k = int(rng.integers(-noise.mask_morph, noise.mask_morph + 1)) if noise.mask_morph else 0
        if k:
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(k) + 1, 2 * abs(k) + 1))
            roi = np.asarray((cv2.dilate if k > 0 else cv2.erode)(roi, kernel), np.uint8)
        if noise.mask_edge_noise:
            soft = cv2.GaussianBlur(roi.astype(np.float32), (0, 0), 1.0)
            field = np.asarray(cv2.GaussianBlur(rng.normal(0, 1, roi.shape).astype(np.float32), (0, 0), 1.5), np.float32)
            field *= 0.5 / max(float(field.std()), 1e-6)
            roi = (soft + noise.mask_edge_noise * field > 0.5).astype(np.uint8)
        if not roi.any():
            return mask
        out = np.zeros_like(mask)
        out[y0:y1, x0:x1] = roi.astype(bool)
        return out

    def _false_mask(self, detected: list[np.ndarray], height: int, width: int) -> np.ndarray:
        """A piece of a detected object (cut along a random line) or a blob in the background."""
        rng = self._rng
        if detected and rng.random() < self.noise.fp_fragment_fraction:
            source = detected[int(rng.integers(len(detected)))]
            ys, xs = np.nonzero(source)
            angle = rng.uniform(0, np.pi)
            offset = (xs - xs.mean()) * np.cos(angle) + (ys - ys.mean()) * np.sin(angle)
            keep = offset > np.quantile(offset, rng.uniform(0.3, 0.7))
            piece = np.zeros_like(source)
            piece[ys[keep], xs[keep]] = True
            if piece.sum() >= self.noise.min_area:
                return piece
        blob = np.zeros((height, width), np.uint8)
        side = min(height, width)
        axes = tuple(int(a) for a in np.maximum(rng.uniform(0.03, 0.12, 2) * side, 3))
        centre = (int(rng.integers(width)), int(rng.integers(height)))
        cv2.ellipse(blob, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        return blob.astype(bool)

    def _jitter_box(self, mask: np.ndarray, height: int, width: int) -> np.ndarray:
        ys, xs = np.nonzero(mask)
        box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float64)
        if self.noise.box_jitter:
            size = np.array([box[2] - box[0], box[3] - box[1]] * 2)
            box += self._rng.normal(0, self.noise.box_jitter, 4) * size
        box[[0, 2]] = np.clip(box[[0, 2]], 0, width)
        box[[1, 3]] = np.clip(box[[1, 3]], 0, height)
        box[2] = max(box[2], min(box[0] + 1, width))
        box[3] = max(box[3], min(box[1] + 1, height))
        box[0] = min(box[0], box[2] - 1)
        box[1] = min(box[1], box[3] - 1)
        return box.astype(np.float32)
