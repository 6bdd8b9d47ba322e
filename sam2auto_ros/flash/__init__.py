"""FLASH: instance identities that survive detection gaps, occlusions and re-entries.

``FlashTracker`` wraps any ``Propagator`` (SAM 2 engine or the weight-free fallback);
``run_offline`` adds hindsight (short-track removal, backward fill) for whole sequences.
"""

from sam2auto_ros.flash.config import FlashConfig, FlashConfigError
from sam2auto_ros.flash.offline import OfflineResult, run_offline
from sam2auto_ros.flash.stats import FlashStats
from sam2auto_ros.flash.tracker import DetectionOutcome, FlashTracker

__all__ = [
    "DetectionOutcome",
    "FlashConfig",
    "FlashConfigError",
    "FlashStats",
    "FlashTracker",
    "OfflineResult",
    "run_offline",
]
