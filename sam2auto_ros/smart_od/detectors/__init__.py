"""Open-vocabulary detector backends behind one interface; ``build_detector`` picks one."""

from __future__ import annotations

from pathlib import Path

from sam2auto_ros.sam2.registry import CheckpointError, detector_dir, detector_info, is_registered, resolve_detector
from sam2auto_ros.smart_od.config import DETECTOR_BACKENDS, DetectorConfig
from sam2auto_ros.smart_od.detectors.base import (
    DetectorBackend,
    DetectorError,
    RawDetections,
    SanitizeReport,
    check_class_names,
    sanitize,
)


def build_detector(config: DetectorConfig, models_dir: str | None = None) -> DetectorBackend:
    """The backend ``config.backend`` names, loaded from ``config.model``.

    ``config.model`` is a registry name (``sam2auto models list``; looked for in ``models_dir``,
    ``$SAM2AUTO_MODELS_DIR`` and ``models/``), a local folder, or a hub name; for ``onnx`` a
    registry name means the folder ``sam2auto export --detector owlv2 --model NAME`` writes.
    """
    try:
        return _build(config, models_dir)
    except CheckpointError as exc:  # the registry's missing / unknown weights
        raise DetectorError(str(exc)) from None


def _build(config: DetectorConfig, models_dir: str | None) -> DetectorBackend:
    common = {"score_floor": config.score_floor, "max_detections": config.max_detections, "nms_iou": config.nms_iou}
    if config.backend in ("owlv2", "grounding_dino"):
        source = str(resolve_detector(config.model, models_dir)) if is_registered(config.model) else config.model
        if config.backend == "owlv2":
            from sam2auto_ros.smart_od.detectors.hf import load_owlv2

            return load_owlv2(source, device=config.device, text_cache_size=config.text_cache_size, **common)
        from sam2auto_ros.smart_od.detectors.hf import GroundingDinoDetector

        return GroundingDinoDetector.from_pretrained(source, device=config.device, **common)
    if config.backend == "onnx":
        return _onnx_detector(config, models_dir, common)
    raise DetectorError(f"unknown detector backend {config.backend!r}; use one of {DETECTOR_BACKENDS}")


def _onnx_detector(config: DetectorConfig, models_dir: str | None, common: dict) -> DetectorBackend:
    """Exported OWLv2 graphs (a registry name or an export folder), or a fixed-vocabulary .onnx file."""
    from sam2auto_ros.smart_od.detectors.owlv2 import Owlv2Detector
    from sam2auto_ros.smart_od.detectors.owlv2_onnx import OnnxOwlv2Towers, load_processor

    expected: dict = {"precision": config.precision}
    if is_registered(config.model):
        from sam2auto_ros.onnx.detector_metadata import folder_config_fingerprint
        from sam2auto_ros.onnx.exporter import default_export_dir

        info = detector_info(config.model)
        if info.family != "owlv2":
            raise DetectorError(f"{config.model} has no ONNX export (only OWLv2 does); use backend {info.family}")
        directory = default_export_dir(config.model, info.image_size, config.precision)
        expected.update(model=config.model, image_size=info.image_size, weights_sha256=info.weights.sha256)
        weights = detector_dir(config.model, models_dir)
        if weights is not None:
            expected["config_sha256"] = folder_config_fingerprint(weights)
        if not directory.is_dir():
            flag = " --fp16" if config.precision == "fp16" else ""
            raise DetectorError(
                f"no exported {config.model} graphs at {directory}; create them with "
                f"`sam2auto export --detector owlv2 --model {config.model}{flag}` (after `{info.download_command}`)"
            )
    else:
        path = Path(config.model)
        if path.suffix == ".onnx":
            from sam2auto_ros.smart_od.detectors.onnx import OnnxDetector

            return OnnxDetector(path, providers=config.onnx_providers, **common)
        directory = path
    towers = OnnxOwlv2Towers(directory, providers=config.onnx_providers, **expected)
    return Owlv2Detector(towers, load_processor(directory), config.text_cache_size, **common)


__all__ = [
    "DetectorBackend",
    "DetectorError",
    "RawDetections",
    "SanitizeReport",
    "build_detector",
    "check_class_names",
    "sanitize",
]
