"""Deterministic synthetic scenes with per-pixel ground truth, and a noisy-detector model."""

from sam2auto_ros.sim.appearance import CLASS_NAMES
from sam2auto_ros.sim.detector import NOISE_PRESETS, DetectorNoise, NoisyDetector, noise_preset
from sam2auto_ros.sim.presets import SCENE_PRESETS, make_scene, scene_config
from sam2auto_ros.sim.scene import Scene, SceneConfig, SimFrame, SimObject

__all__ = [
    "CLASS_NAMES",
    "NOISE_PRESETS",
    "SCENE_PRESETS",
    "DetectorNoise",
    "NoisyDetector",
    "Scene",
    "SceneConfig",
    "SimFrame",
    "SimObject",
    "make_scene",
    "noise_preset",
    "scene_config",
]
