"""What an exported graph says about itself, so a loader can refuse graphs that do not belong.

Every graph carries the same ``metadata_props``: model name, image size, the checkpoint's
SHA-256, precision, opset, exporter versions, and the model's :class:`Sam2Settings`. The small
learned tensors the engine needs between graphs (:class:`Sam2Constants`) live next to the graphs
in ``constants.npz`` with the same description, so the onnxruntime backend needs no torch
checkpoint at all.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from sam2auto_ros.sam2.features import Sam2Settings
from sam2auto_ros.sam2.parts import Sam2Constants

_PREFIX = "sam2auto."
CONSTANTS_FILE = "constants.npz"
_INFO_KEY = "__export_info__"


class OnnxModelError(RuntimeError):
    """Exported graphs that are missing, corrupt, or belong to another model, size or precision."""


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks (checkpoints are hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ExportInfo:
    """Where a set of graphs came from and how it was made; identical in all of its files."""

    model: str
    image_size: int
    checkpoint_sha256: str
    precision: str  # "fp32" | "fp16"
    opset: int
    settings: Sam2Settings
    torch_version: str = torch.__version__
    onnx_version: str = onnx.__version__
    exporter: str = "torch.onnx.export(dynamo=True)"

    def to_props(self, graph: str) -> dict[str, str]:
        """String key/values for ``metadata_props`` of graph ``graph``."""
        props = {_PREFIX + "graph": graph}
        for f in fields(self):
            value = getattr(self, f.name)
            props[_PREFIX + f.name] = json.dumps(value.to_dict(), sort_keys=True) if f.name == "settings" else str(value)
        return props

    @classmethod
    def from_props(cls, props: dict[str, str], source: str) -> tuple[ExportInfo, str]:
        """Parse ``metadata_props``; returns the info and the graph name. ``source`` names the file in errors."""
        try:
            values: dict[str, Any] = {}
            for f in fields(cls):
                raw = props[_PREFIX + f.name]
                if f.name == "settings":
                    values[f.name] = Sam2Settings.from_dict(json.loads(raw))
                elif f.name in ("image_size", "opset"):
                    values[f.name] = int(raw)
                else:
                    values[f.name] = raw
            return cls(**values), props[_PREFIX + "graph"]
        except (KeyError, ValueError, TypeError) as exc:
            raise OnnxModelError(
                f"{source} carries no sam2auto export metadata ({type(exc).__name__}: {exc}); "
                "export it with `sam2auto export` so its model, size and checkpoint can be checked"
            ) from None

    def describe(self) -> str:
        return f"{self.model} @ {self.image_size}px {self.precision}, checkpoint sha256 {self.checkpoint_sha256[:12]}"


def stamp(model: onnx.ModelProto, info: ExportInfo, graph: str) -> None:
    """Write ``info`` into ``model.metadata_props`` (replacing earlier sam2auto keys)."""
    kept = [p for p in model.metadata_props if not p.key.startswith(_PREFIX)]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    onnx.helper.set_model_props(model, {**{p.key: p.value for p in kept}, **info.to_props(graph)})


def save_constants(path: Path, constants: Sam2Constants, info: ExportInfo) -> None:
    """``constants.npz``: every non-``None`` constant as float32 plus the export info as JSON."""
    arrays: dict[str, Any] = {f.name: getattr(constants, f.name).detach().float().cpu().numpy() for f in fields(constants) if getattr(constants, f.name) is not None}
    meta = json.dumps({**asdict(info), "settings": info.settings.to_dict()}, sort_keys=True)
    np.savez(path, **arrays, **{_INFO_KEY: np.array(meta)})


def load_constants(path: Path, device: torch.device) -> tuple[Sam2Constants, ExportInfo]:
    """Read :func:`save_constants`'s file back (absent constants come back as ``None``)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            raw = json.loads(str(data[_INFO_KEY]))
            tensors: dict[str, Any] = {f.name: (torch.from_numpy(data[f.name].copy()).to(device) if f.name in data.files else None) for f in fields(Sam2Constants)}
    except (OSError, KeyError, ValueError) as exc:
        raise OnnxModelError(f"cannot read {path}: {exc}; re-run `sam2auto export`") from None
    raw["settings"] = Sam2Settings.from_dict(raw["settings"])
    return Sam2Constants(**tensors), ExportInfo(**raw)
