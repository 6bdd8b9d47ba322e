"""SMART-OD: detect, threshold, verify, and give every kept detection a SAM 2 mask.

Per frame: (1) the detector's sanitised detections; (2) the frame's dynamic score threshold;
(3) DBSCAN regions of interest around the candidates that pass it, sliced re-detection inside
them, and verification (best IoU with a sliced prediction > theta_v); (4) SAM 2 automatic mask
generation on the frame's features and pairing of the verified detections with the proposals
(box-prompt fallback). Every stage reports what it kept and rejected, and why.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from sam2auto_ros.core.instance import Instance, InstanceStatus
from sam2auto_ros.core.masks import RleMask
from sam2auto_ros.core.rgb import check_rgb
from sam2auto_ros.smart_od.amg import AmgStats, MaskGenerator
from sam2auto_ros.smart_od.config import SmartODConfig
from sam2auto_ros.smart_od.detectors import DetectorBackend, DetectorError, SanitizeReport, build_detector, check_class_names
from sam2auto_ros.smart_od.pairing import pair_detections
from sam2auto_ros.smart_od.prompting import FeaturesLike, masks_from_boxes
from sam2auto_ros.smart_od.rois import cluster_rois
from sam2auto_ros.smart_od.slicing import best_iou, redetect
from sam2auto_ros.smart_od.thresholds import ScoreWindow, ThresholdResult

REJECT_BELOW_THRESHOLD = "below_threshold"
REJECT_NOT_VERIFIED = "not_verified"


@dataclass(frozen=True)
class Rejection:
    label: str
    score: float
    box: tuple[float, float, float, float]
    # REJECT_BELOW_THRESHOLD, or REJECT_NOT_VERIFIED: no sliced prediction overlaps it enough
    # (also a candidate outside the ``roi.max_rois`` regions that were re-detected)
    reason: str
    best_iou: float = 0.0  # with the sliced predictions (for REJECT_NOT_VERIFIED)


@dataclass
class Diagnostics:
    """What each stage of one ``detect`` call saw, kept and rejected."""

    sanitize: SanitizeReport = field(default_factory=SanitizeReport)
    detections: int = 0
    threshold: ThresholdResult | None = None
    rois: list[tuple[int, int, int, int]] = field(default_factory=list)
    slices: int = 0
    sliced_predictions: int = 0
    verified: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    amg: AmgStats | None = None
    proposals: int = 0
    paired: int = 0
    box_prompted: int = 0
    without_mask: int = 0
    unlabelled: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def rejected_counts(self) -> dict[str, int]:
        counts = {REJECT_BELOW_THRESHOLD: 0, REJECT_NOT_VERIFIED: 0}
        for r in self.rejected:
            counts[r.reason] += 1
        return counts


@dataclass
class SmartODResult:
    instances: list[Instance]
    diagnostics: Diagnostics


class SmartODError(ValueError):
    """SMART-OD was asked for something its configuration or inputs cannot give."""


class SmartOD:
    """The SMART-OD stage. ``sam_model`` (a built SAM 2 ``SAM2Base``) is needed when
    ``config.generate_masks``; ``encoder`` (image -> features) lets ``detect`` run without
    precomputed features and enables AMG crop layers."""

    def __init__(
        self,
        config: SmartODConfig | None = None,
        detector: DetectorBackend | None = None,
        sam_model=None,
        encoder: Callable[[np.ndarray], FeaturesLike] | None = None,
    ) -> None:
        self.config = config or SmartODConfig()
        self.detector = detector if detector is not None else build_detector(self.config.detector)
        self.sam_model = sam_model
        self.encoder = encoder
        self.class_names = check_class_names(self.config.detector.class_names)
        self.score_window = ScoreWindow(self.config.threshold)
        if self.config.generate_masks:
            if sam_model is None:
                raise SmartODError("generate_masks is on but no SAM 2 model was given: pass sam_model= or set generate_masks: false")
            self.mask_generator = MaskGenerator(sam_model, self.config.amg, encoder)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> SmartOD:
        """Build from node/pipeline parameters: ``smart_od_config`` (YAML path or ""), ``classes``,
        and the SAM 2 model selection (``model``, ``checkpoint``, ``models_dir``, ``device``,
        ``image_size``) resolved by the engine's registry."""
        path = params.get("smart_od_config") or ""
        config = SmartODConfig.from_yaml(path) if path else SmartODConfig()
        if params.get("classes"):
            config.detector.class_names = list(params["classes"])
        detector = build_detector(config.detector, params.get("models_dir") or None)  # fails fast (no weights) before SAM 2 loads
        if not config.generate_masks:
            return cls(config, detector)
        from sam2auto_ros.sam2.image import encode_frame
        from sam2auto_ros.sam2.loading import build_model
        from sam2auto_ros.sam2.parts import TorchSam2Parts

        model = build_model(
            params.get("model") or "sam2.1_hiera_tiny",
            params.get("checkpoint") or None,
            params.get("models_dir") or None,
            device=params.get("device") or "cpu",
            image_size=params.get("image_size") or None,
        )
        parts = TorchSam2Parts(model)
        return cls(config, detector, sam_model=model, encoder=lambda image: encode_frame(parts, image))

    def set_classes(self, class_names: Sequence[str]) -> None:
        """Change the vocabulary at run time (validated; the old one stays on error)."""
        self.class_names = check_class_names(class_names)
        self.config.detector.class_names = list(self.class_names)
        self.score_window.reset()

    def reset(self) -> None:
        """Start a new sequence: forget the pooled scores and the held cut of earlier frames."""
        self.score_window.reset()

    def detect(self, image: np.ndarray, features: FeaturesLike | None = None) -> SmartODResult:
        image = check_rgb(image, DetectorError)
        diag = Diagnostics()
        clock = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            diag.seconds[name] = now - clock
            clock = now

        detections, diag.sanitize = self.detector.detect_with_report(image, self.class_names)
        diag.detections = len(detections)
        lap("detect")
        kept = self._threshold_and_verify(image, detections, diag)
        lap("verify")
        instances = self._attach_masks(image, features, kept, diag) if self.config.generate_masks else kept
        lap("masks")
        return SmartODResult(instances, diag)

    # -- stages -------------------------------------------------------------------------------
    def _threshold_and_verify(self, image: np.ndarray, detections: list[Instance], diag: Diagnostics) -> list[Instance]:
        cfg = self.config
        scores = np.array([d.score for d in detections])
        diag.threshold = self.score_window.threshold(scores)
        theta = diag.threshold.theta_final
        candidates = []
        for det in detections:
            if det.score >= theta:
                candidates.append(det)
            else:
                diag.rejected.append(Rejection(det.label, det.score, tuple(det.box.tolist()), REJECT_BELOW_THRESHOLD))
        if not cfg.slicing.enabled or not candidates:
            diag.verified = len(candidates)
            return candidates
        boxes = np.array([c.box for c in candidates], dtype=np.float64)
        rois = cluster_rois(boxes, np.array([c.score for c in candidates]), image.shape[:2], cfg.roi)
        diag.rois = [r.box for r in rois]
        sliced = redetect(image, rois, self.class_names, self.detector.detect, cfg.slicing)
        diag.slices, diag.sliced_predictions = sliced.slices, len(sliced.boxes)
        best = best_iou(boxes, np.array([c.class_id for c in candidates]), sliced, cfg.slicing.same_label)
        in_roi = np.zeros(len(candidates), dtype=bool)
        for roi in rois:
            in_roi[list(roi.members)] = True
        verified = []
        for det, iou, covered in zip(candidates, best, in_roi):
            if covered and iou > cfg.slicing.verify_iou:
                verified.append(det)
            else:
                diag.rejected.append(Rejection(det.label, det.score, tuple(det.box.tolist()), REJECT_NOT_VERIFIED, float(iou)))
        diag.verified = len(verified)
        return verified

    def _attach_masks(self, image: np.ndarray, features, detections: list[Instance], diag: Diagnostics) -> list[Instance]:
        if features is None:
            if self.encoder is None:
                raise SmartODError("detect() needs the frame's SAM 2 features (features=) or an encoder given to SmartOD")
            features = self.encoder(image)
        if tuple(int(v) for v in features.orig_hw) != tuple(image.shape[:2]):
            raise SmartODError(f"features are for a {tuple(features.orig_hw)} frame, the image is {image.shape[:2]}")
        proposals = self.mask_generator.generate(features, image)
        diag.amg, diag.proposals = proposals.stats, len(proposals.instances)
        pairing = pair_detections(detections, proposals.instances, self.config.pairing)
        masked: dict[int, RleMask | None] = {d: proposals.instances[p].mask for d, p in pairing.pairs}
        diag.paired = len(pairing.pairs)
        todo = list(pairing.unmatched_detections) if self.config.pairing.box_prompt_fallback else []
        if todo:
            masks, _ = masks_from_boxes(self.sam_model, features, np.array([detections[i].box for i in todo]), self.config.amg.mask_threshold)
            for i, mask in zip(todo, masks.numpy()):
                masked[i] = RleMask.from_array(mask) if mask.any() else None
            diag.box_prompted = len(todo)
        out = []
        for i, det in enumerate(detections):
            mask = masked.get(i)
            if mask is None:
                diag.without_mask += 1
                out.append(det)
            else:
                out.append(replace(det, mask=mask, box=mask.box_xyxy()))
        if self.config.pairing.keep_unlabelled:
            extra = [replace(proposals.instances[j], status=InstanceStatus.DETECTION) for j in pairing.unclaimed_proposals]
            diag.unlabelled = len(extra)
            out += extra
        return out
