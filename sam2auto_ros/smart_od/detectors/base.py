"""One interface for open-vocabulary detectors, and the checks every backend shares.

A backend only turns (image, class names) into raw arrays; this base class validates the input,
and sanitises what comes back (non-finite scores or boxes dropped, boxes clipped to the frame,
empty boxes dropped, class-aware NMS, top-k), so every backend yields the same clean
``Instance`` list (box, label, score, class_id, mask None) and reports what it removed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sam2auto_ros.core.instance import Instance, InstanceStatus
from sam2auto_ros.core.rgb import check_rgb
from sam2auto_ros.smart_od.boxes import box_areas, clip_boxes, nms


class DetectorError(ValueError):
    """Bad input to a detector (image, class names) or a model that cannot serve the request."""


@dataclass
class RawDetections:
    """A backend's output before sanitising: xyxy pixel boxes, scores, indices into class_names."""

    boxes: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray


@dataclass
class SanitizeReport:
    """What sanitising removed or changed in one call."""

    raw: int = 0
    non_finite: int = 0
    clipped: int = 0
    empty_after_clip: int = 0
    below_floor: int = 0
    nms_suppressed: int = 0
    over_max: int = 0
    kept: int = 0


def check_class_names(class_names) -> list[str]:
    if isinstance(class_names, str):
        raise DetectorError("class_names must be a list of names, not one string")
    names = [str(n).strip() for n in (class_names or [])]
    if not names:
        raise DetectorError("class_names is empty: set detector.class_names (or pass class_names=[...])")
    if any(not n for n in names):
        raise DetectorError(f"class_names holds an empty name: {list(class_names)}")
    if len(set(names)) != len(names):
        raise DetectorError(f"class_names holds duplicates: {names}")
    return names


class DetectorBackend(ABC):
    """Base of every backend: ``detect(image, class_names) -> list[Instance]``."""

    def __init__(self, score_floor: float = 0.05, max_detections: int = 300, nms_iou: float = 0.7) -> None:
        self.score_floor = float(score_floor)
        self.max_detections = int(max_detections)
        self.nms_iou = float(nms_iou)

    @abstractmethod
    def _predict(self, image: np.ndarray, class_names: list[str]) -> RawDetections:
        """Raw boxes (xyxy pixels of ``image``), scores in [0, 1], class indices."""

    def detect(self, image: np.ndarray, class_names: Sequence[str]) -> list[Instance]:
        return self.detect_with_report(image, class_names)[0]

    def detect_with_report(self, image: np.ndarray, class_names: Sequence[str]) -> tuple[list[Instance], SanitizeReport]:
        image = check_rgb(image, DetectorError)
        names = check_class_names(class_names)
        raw = self._predict(image, names)
        return sanitize(raw, names, image.shape[:2], self.score_floor, self.nms_iou, self.max_detections)


def sanitize(
    raw: RawDetections,
    class_names: list[str],
    frame_hw: tuple[int, int],
    score_floor: float,
    nms_iou: float,
    max_detections: int,
) -> tuple[list[Instance], SanitizeReport]:
    """Clean a backend's raw output into Instances (see the module docstring)."""
    boxes = np.asarray(raw.boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(raw.scores, dtype=np.float64).reshape(-1)
    class_ids = np.asarray(raw.class_ids).reshape(-1).astype(np.int64)
    if not (len(boxes) == len(scores) == len(class_ids)):
        raise DetectorError(f"backend returned {len(boxes)} boxes, {len(scores)} scores, {len(class_ids)} class ids")
    report = SanitizeReport(raw=len(scores))
    finite = np.isfinite(scores) & np.all(np.isfinite(boxes), axis=1)
    finite &= (class_ids >= 0) & (class_ids < len(class_names))
    report.non_finite = int((~finite).sum())
    boxes, scores, class_ids = boxes[finite], np.clip(scores[finite], 0.0, 1.0), class_ids[finite]
    clipped = clip_boxes(boxes, *frame_hw)
    report.clipped = int(np.any(np.abs(clipped - boxes) > 1e-6, axis=1).sum())
    nonempty = box_areas(clipped) > 0
    report.empty_after_clip = int((~nonempty).sum())
    boxes, scores, class_ids = clipped[nonempty], scores[nonempty], class_ids[nonempty]
    passing = scores >= score_floor
    report.below_floor = int((~passing).sum())
    boxes, scores, class_ids = boxes[passing], scores[passing], class_ids[passing]
    if nms_iou < 1.0 and len(scores):
        # Class-aware: offset each class's boxes so that different classes never overlap.
        offset = (class_ids * (max(frame_hw) + 1.0))[:, None]
        keep = nms(boxes + offset, scores, nms_iou)
        report.nms_suppressed = len(scores) - len(keep)
    else:
        keep = np.argsort(-scores, kind="stable")
    report.over_max = max(0, len(keep) - max_detections)
    keep = keep[:max_detections]
    report.kept = len(keep)
    instances = [
        Instance(
            mask=None,
            box=boxes[i].astype(np.float32),
            label=class_names[class_ids[i]],
            score=float(scores[i]),
            class_id=int(class_ids[i]),
            status=InstanceStatus.DETECTION,
        )
        for i in keep
    ]
    return instances, report
