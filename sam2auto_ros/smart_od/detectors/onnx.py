"""An ONNX detector with its vocabulary fixed at export (YOLO-World style), on onnxruntime.

Signature (what ultralytics' YOLO-World export produces): input ``images`` float32
``(1, 3, S, S)``, RGB in [0, 1], letterboxed (aspect kept, grey 114 padding, centred); output
``(1, 4 + C, N)`` (or ``(1, N, 4 + C)``): box centre x, y, width, height in input pixels, then C
class scores in [0, 1]. The C class names come from the model's ``names`` metadata (a JSON list
or ``{0: 'person', ...}``) or from the constructor. At run time a detection call may ask for any
subset of the exported vocabulary; other names need a new export.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import cv2
import numpy as np

from sam2auto_ros.onnx.providers import ProviderError, resolve
from sam2auto_ros.smart_od.detectors.base import DetectorBackend, DetectorError, RawDetections

LETTERBOX_FILL = 114


def _names_from_metadata(raw: str) -> list[str]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = ast.literal_eval(raw)
    if isinstance(value, dict):
        return [str(value[k]) for k in sorted(value, key=int)]
    return [str(v) for v in value]


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float, tuple[float, float]]:
    """Resize keeping the aspect ratio into a ``size`` square; returns it, the scale, the pad."""
    height, width = image.shape[:2]
    scale = min(size / height, size / width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    pad_x, pad_y = (size - new_w) / 2, (size - new_h) / 2
    canvas = np.full((size, size, 3), LETTERBOX_FILL, dtype=np.uint8)
    top, left = int(round(pad_y - 0.1)), int(round(pad_x - 0.1))
    canvas[top : top + new_h, left : left + new_w] = resized
    return canvas, scale, (left, top)


class OnnxDetector(DetectorBackend):
    """Runs an exported detector with onnxruntime (CPU, CUDA or TensorRT providers)."""

    def __init__(
        self,
        path: str | Path,
        class_names: list[str] | None = None,
        providers: list[str] | None = None,
        input_size: int = 640,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise DetectorError(f"ONNX detector {path} does not exist: export one (e.g. YOLO-World) and set detector.model")
        try:
            chosen = resolve(providers or ["cpu"])
        except (ProviderError, ValueError) as exc:
            raise DetectorError(str(exc)) from None
        self.session = ort.InferenceSession(str(path), providers=chosen)
        meta = self.session.get_modelmeta().custom_metadata_map
        self.vocabulary = list(class_names) if class_names else (_names_from_metadata(meta["names"]) if "names" in meta else [])
        if not self.vocabulary:
            raise DetectorError(f"{path} has no 'names' metadata: pass the class names it was exported with")
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        side = model_input.shape[-1]
        self.input_size = side if isinstance(side, int) else int(input_size)

    def _predict(self, image: np.ndarray, class_names: list[str]) -> RawDetections:
        unknown = [n for n in class_names if n not in self.vocabulary]
        if unknown:
            raise DetectorError(
                f"classes {unknown} were not in this ONNX model's export vocabulary {self.vocabulary}; re-export with them"
            )
        canvas, scale, (left, top) = letterbox(image, self.input_size)
        tensor = (canvas.transpose(2, 0, 1)[None].astype(np.float32)) / 255.0
        output = np.asarray(self.session.run(None, {self.input_name: tensor})[0])[0]
        width = 4 + len(self.vocabulary)
        if output.shape[0] != width:
            if output.ndim != 2 or output.shape[1] != width:
                raise DetectorError(f"ONNX output {output.shape} does not hold 4 box values + {len(self.vocabulary)} class scores")
            output = output.T
        columns = [self.vocabulary.index(n) for n in class_names]
        scores = output[4:][columns]  # (requested classes, N)
        cx, cy, w, h = output[:4]
        boxes = np.stack([cx - w / 2 - left, cy - h / 2 - top, cx + w / 2 - left, cy + h / 2 - top], axis=1) / scale
        return RawDetections(boxes, scores.max(axis=0), scores.argmax(axis=0))
