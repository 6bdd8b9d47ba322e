"""Open-vocabulary detector backends behind one interface; ``build_detector`` picks one."""

from __future__ import annotations

from sam2auto_ros.smart_od.config import DETECTOR_BACKENDS, DetectorConfig
from sam2auto_ros.smart_od.detectors.base import (
    DetectorBackend,
    DetectorError,
    RawDetections,
    SanitizeReport,
    check_class_names,
    sanitize,
)


def build_detector(config: DetectorConfig) -> DetectorBackend:
    """The backend ``config.backend`` names, loaded from ``config.model``."""
    common = {"score_floor": config.score_floor, "max_detections": config.max_detections, "nms_iou": config.nms_iou}
    if config.backend == "owlv2":
        from sam2auto_ros.smart_od.detectors.hf import Owlv2Detector

        return Owlv2Detector.from_pretrained(config.model, device=config.device, **common)
    if config.backend == "grounding_dino":
        from sam2auto_ros.smart_od.detectors.hf import GroundingDinoDetector

        return GroundingDinoDetector.from_pretrained(config.model, device=config.device, **common)
    if config.backend == "onnx":
        from sam2auto_ros.smart_od.detectors.onnx import OnnxDetector

        return OnnxDetector(config.model, providers=config.onnx_providers, **common)
    raise DetectorError(f"unknown detector backend {config.backend!r}; use one of {DETECTOR_BACKENDS}")


__all__ = [
    "DetectorBackend",
    "DetectorError",
    "RawDetections",
    "SanitizeReport",
    "build_detector",
    "check_class_names",
    "sanitize",
]
