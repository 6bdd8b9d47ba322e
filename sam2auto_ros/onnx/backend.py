"""``backend: torch | onnx``: one function that builds the ``Sam2Parts`` a configuration asks for.

The streaming engine (and SMART-OD's mask generator) take whatever this returns; nothing above
it knows which backend runs. For ``onnx`` the graphs are checked against the configured model
and image size, and against the checkpoint's SHA-256 when it is known (the file is present, or
the registry records the published digest), so graphs of another checkpoint are refused.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from sam2auto_ros.onnx.providers import DEFAULT_PROVIDERS
from sam2auto_ros.sam2.parts import Sam2Parts

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx")


def _known_sha256(model: str, checkpoint: str | os.PathLike[str] | None, models_dir: str | os.PathLike[str] | None) -> str | None:
    from sam2auto_ros.onnx.metadata import file_sha256
    from sam2auto_ros.sam2.registry import CheckpointError, checkpoint_info, resolve_checkpoint

    try:
        return file_sha256(resolve_checkpoint(model, checkpoint, models_dir))
    except CheckpointError:
        published = checkpoint_info(model).sha256
        if published is None:
            log.info("checkpoint of %s not available here: the ONNX graphs' checkpoint hash cannot be verified", model)
        return published


def build_parts(
    backend: str,
    model: str,
    image_size: int | None = None,
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    models_dir: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    onnx_dir: str | os.PathLike[str] | None = None,
    precision: str = "fp32",
    providers: Sequence[str] = DEFAULT_PROVIDERS,
    threads: int | None = None,
) -> Sam2Parts:
    """The four SAM 2 parts on ``backend`` for registry model ``model`` at ``image_size``.

    ``onnx_dir`` defaults to ``models/onnx/<model>-<size>-<precision>`` (what ``sam2auto export``
    writes); ``device`` applies to torch, ``providers`` / ``precision`` / ``threads`` to onnx.
    """
    if backend == "torch":
        from sam2auto_ros.sam2.loading import build_model
        from sam2auto_ros.sam2.parts import TorchSam2Parts

        return TorchSam2Parts(build_model(model, checkpoint, models_dir, device=device, image_size=image_size))
    if backend == "onnx":
        from sam2auto_ros.onnx.exporter import default_export_dir
        from sam2auto_ros.onnx.parts import OnnxSam2Parts

        size = image_size or 1024
        directory = Path(onnx_dir) if onnx_dir else default_export_dir(model, size, precision)
        return OnnxSam2Parts(
            directory,
            model=model,
            image_size=size,
            precision=precision,
            checkpoint_sha256=_known_sha256(model, checkpoint, models_dir),
            providers=providers,
            threads=threads,
        )
    raise ValueError(f"unknown SAM 2 backend {backend!r}; use one of {BACKENDS}")
