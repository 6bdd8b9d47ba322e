"""OWLv2's two exported graphs on onnxruntime, behind the same ``Owlv2Towers`` as the torch backend.

``sam2auto export --detector owlv2`` writes the folder this loads (the graphs plus the model's
processor files). Loading refuses, before any frame, a folder whose two graphs come from
different exports, or whose export is of another model, configuration, image size, precision or
weights than the caller expects, with what it found and what was expected. Providers are tried
in the order given (TensorRT -> CUDA -> CPU by default); a missing one is a warning that names
what runs instead (:mod:`sam2auto_ros.onnx.providers`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sam2auto_ros.onnx.detector_export import EXPORT_INFO_FILE, IMAGE_GRAPH, OWLV2_GRAPHS, TEXT_GRAPH
from sam2auto_ros.onnx.detector_metadata import DetectorExportInfo
from sam2auto_ros.onnx.providers import DEFAULT_PROVIDERS, ProviderError, check_session, provider_options, resolve, session_options
from sam2auto_ros.smart_od.detectors.base import DetectorError

log = logging.getLogger(__name__)


class DetectorModelError(DetectorError):
    """Exported detector graphs that are missing, corrupt, or not the ones configured."""


def load_processor(directory: str | os.PathLike[str]) -> Any:
    """The ``Owlv2Processor`` saved in ``directory``, on the PIL image processor (no torchvision)."""
    from transformers import Owlv2ImageProcessorPil, Owlv2Processor

    from sam2auto_ros.smart_od.detectors.hf import load_processor as load_parts

    return load_parts(Owlv2Processor, Owlv2ImageProcessorPil, str(directory))


class OnnxOwlv2Towers:
    """``owlv2_text.onnx`` + ``owlv2_image.onnx`` from one export folder."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        model: str | None = None,
        image_size: int | None = None,
        precision: str | None = None,
        config_sha256: str | None = None,
        weights_sha256: str | None = None,
        providers: Sequence[str] = DEFAULT_PROVIDERS,
        strict_providers: bool = False,
        threads: int | None = None,
    ) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise DetectorModelError(
                f"no exported OWLv2 graphs at {self.directory}; create them with "
                f"`sam2auto export --detector owlv2 --out {self.directory}`"
            )
        try:
            self.providers = resolve(providers, strict_providers)
        except (ProviderError, ValueError) as exc:
            raise DetectorModelError(str(exc)) from None
        self.info = self._read_info()
        self._check_expected(model=model, image_size=image_size, precision=precision,
                             config_sha256=config_sha256, weights_sha256=weights_sha256)
        self.text_length = self.info.text_length
        self.max_queries: int | None = self.info.max_queries
        self.active_providers: dict[str, str] = {}
        self._sessions = {name: self._open(name, threads, strict_providers) for name in OWLV2_GRAPHS}

    def _read_info(self) -> DetectorExportInfo:
        path = self.directory / EXPORT_INFO_FILE
        try:
            return DetectorExportInfo.from_props(json.loads(path.read_text()))[0]
        except FileNotFoundError:
            raise DetectorModelError(
                f"{path} is missing: {self.directory} is not a complete `sam2auto export --detector owlv2` folder; export it again"
            ) from None
        except (KeyError, ValueError, TypeError) as exc:
            raise DetectorModelError(f"{path} is unreadable ({type(exc).__name__}: {exc}); export the folder again") from None

    def _open(self, name: str, threads: int | None, strict: bool) -> Any:
        import onnxruntime as ort

        path = self.directory / f"{name}.onnx"
        if not path.is_file():
            raise DetectorModelError(f"graph {path} is missing; re-run `sam2auto export --detector owlv2 --out {self.directory}`")
        length, slots = self.info.text_length, self.info.max_queries
        # the text graph's one dynamic axis (names per call) gets a TensorRT profile up to the query slots
        profile = {"input_ids": (f"1x{length}", f"{slots}x{length}", f"{slots}x{length}")} if name == TEXT_GRAPH else None
        options = session_options(self.info.precision, self.providers[0], threads)
        chosen = provider_options(self.providers, self.info.precision, str(self.directory / "trt_cache"), profile)
        try:
            session = ort.InferenceSession(str(path), options, providers=chosen)
        except Exception as exc:  # onnxruntime's own exception types for corrupt files
            raise DetectorModelError(f"onnxruntime cannot load {path}: {str(exc).splitlines()[0]}; export it again") from exc
        try:
            info, graph = DetectorExportInfo.from_props(dict(session.get_modelmeta().custom_metadata_map))
        except (KeyError, ValueError, TypeError) as exc:
            raise DetectorModelError(
                f"{path} carries no sam2auto detector export metadata ({type(exc).__name__}: {exc}); "
                "export it with `sam2auto export --detector owlv2`"
            ) from None
        if graph != name or info != self.info:
            raise DetectorModelError(
                f"{path} holds graph {graph!r} of {info.describe()}, but {self.directory} is an export of "
                f"{self.info.describe()}; do not mix files of different exports, export the folder again"
            )
        self.active_providers[name] = check_session(session, self.providers, name, strict)
        return session

    def _check_expected(self, **expected: Any) -> None:
        for key, want in expected.items():
            got = getattr(self.info, key)
            if want is not None and want != "" and got != want:
                raise DetectorModelError(
                    f"the OWLv2 graphs in {self.directory} are {self.info.describe()}, but {key}={want!r} is configured; "
                    "export that configuration with `sam2auto export --detector owlv2` or point detector.model elsewhere"
                )

    def embed_text(self, input_ids: np.ndarray) -> np.ndarray:
        slots = self.info.max_queries
        # the text graph takes at most ``max_queries`` names per call
        parts = [self._sessions[TEXT_GRAPH].run(None, {"input_ids": input_ids[i : i + slots]})[0]
                 for i in range(0, len(input_ids), slots)]
        return np.concatenate(parts).astype(np.float32)

    def detect(self, pixel_values: np.ndarray, query_embeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits, boxes = self._sessions[IMAGE_GRAPH].run(None, {"pixel_values": pixel_values, "query_embeds": query_embeds})
        return logits, boxes
