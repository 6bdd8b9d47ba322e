"""What an exported detector graph says about itself, so a loader can refuse one that does not belong.

Both OWLv2 graphs of one export carry the same :class:`DetectorExportInfo` in ``metadata_props``:
the model's name, a fingerprint of its configuration, the weights' SHA-256, image size,
precision, the query slots of the image graph and the token length of the text graph. A loader
compares them with what it is configured for and with each other before it runs a frame.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, fields
from typing import Any

_PREFIX = "sam2auto.detector."
#: configuration keys that say how a model was saved, not what it computes
_VOLATILE_CONFIG_KEYS = frozenset({"transformers_version", "_name_or_path", "torch_dtype", "dtype", "architectures"})


def config_fingerprint(config: dict[str, Any]) -> str:
    """SHA-256 of a model configuration without the keys that only record how it was saved."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in _VOLATILE_CONFIG_KEYS}
        return value

    return hashlib.sha256(json.dumps(strip(config), sort_keys=True, default=str).encode()).hexdigest()


def folder_config_fingerprint(folder: str | os.PathLike[str]) -> str:
    """:func:`config_fingerprint` of the configuration saved in ``folder``, read as transformers
    reads it (``config.json`` leaves out defaults; the fingerprint is of the full configuration)."""
    from transformers import AutoConfig

    return config_fingerprint(AutoConfig.from_pretrained(str(folder)).to_dict())


@dataclass(frozen=True)
class DetectorExportInfo:
    """One detector export; identical in each of its graphs."""

    family: str  # "owlv2"
    model: str  # registry name or the folder the weights came from
    config_sha256: str
    weights_sha256: str  # "" when the weights file was not known to the exporter
    image_size: int
    precision: str  # "fp32" | "fp16"
    opset: int
    max_queries: int  # class names the image graph takes per call
    text_length: int  # tokens per class name the text graph takes
    embed_dim: int
    torch_version: str
    onnx_version: str
    exporter: str = "torch.onnx.export(dynamo=True)"

    def to_props(self, graph: str) -> dict[str, str]:
        return {_PREFIX + "graph": graph, **{_PREFIX + f.name: str(getattr(self, f.name)) for f in fields(self)}}

    @classmethod
    def from_props(cls, props: dict[str, str]) -> tuple[DetectorExportInfo, str]:
        """The info and the graph name; ``KeyError``/``ValueError`` when the keys are missing or bad."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = props[_PREFIX + f.name]
            values[f.name] = int(raw) if f.type in ("int", int) else raw
        return cls(**values), props[_PREFIX + "graph"]

    def describe(self) -> str:
        weights = f", weights sha256 {self.weights_sha256[:12]}" if self.weights_sha256 else ""
        return (f"{self.family} {self.model} @ {self.image_size}px {self.precision}, {self.max_queries} query slots, "
                f"config {self.config_sha256[:12]}{weights}")
