"""SMART-OD: open-vocabulary detection with SAM 2 masks and statistical thresholds."""

from sam2auto_ros.smart_od.amg import MaskGenerator, Proposals
from sam2auto_ros.smart_od.config import ConfigError, SmartODConfig
from sam2auto_ros.smart_od.detectors import DetectorBackend, DetectorError, build_detector
from sam2auto_ros.smart_od.pipeline import Diagnostics, SmartOD, SmartODError, SmartODResult
from sam2auto_ros.smart_od.thresholds import ThresholdResult, dynamic_threshold

__all__ = [
    "ConfigError",
    "DetectorBackend",
    "DetectorError",
    "Diagnostics",
    "MaskGenerator",
    "Proposals",
    "SmartOD",
    "SmartODConfig",
    "SmartODError",
    "SmartODResult",
    "ThresholdResult",
    "build_detector",
    "dynamic_threshold",
]
