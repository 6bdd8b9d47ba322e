"""Choosing onnxruntime execution providers: an ordered wish list, and loud fallbacks.

A provider can be missing in two ways: not built into the installed onnxruntime (the CPU wheel
has no CUDA or TensorRT), or built in but failing to start (no GPU, missing CUDA/TensorRT
libraries), in which case onnxruntime quietly runs the graph on the next provider. Both are
logged as warnings naming what runs instead; ``strict=True`` turns them into errors.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import onnxruntime as ort

log = logging.getLogger(__name__)

#: short names accepted in configuration files
ALIASES = {
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
DEFAULT_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


class ProviderError(RuntimeError):
    """No requested provider can run here (or a strict request cannot be met)."""


def canonical(name: str) -> str:
    """Full onnxruntime provider name for ``name`` (case-insensitive alias or full name)."""
    full = ALIASES.get(name.lower(), name)
    known = ort.get_all_providers()
    if full not in known:
        raise ValueError(f"unknown onnxruntime provider {name!r}; use one of {sorted(ALIASES)} or {known}")
    return full


def resolve(requested: Sequence[str], strict: bool = False) -> list[str]:
    """The requested providers this onnxruntime build has, in the requested order."""
    wanted = [canonical(p) for p in requested]
    if not wanted:
        raise ValueError("at least one onnxruntime provider is needed")
    available = set(ort.get_available_providers())
    usable = [p for p in wanted if p in available]
    missing = [p for p in wanted if p not in available]
    build = f"onnxruntime {ort.__version__} (has {', '.join(ort.get_available_providers())})"
    if not usable:
        raise ProviderError(f"none of the requested providers {wanted} is installed in {build}; install onnxruntime-gpu for CUDA/TensorRT or add 'cpu'")
    if missing:
        message = f"providers {missing} are not installed in {build}; running on {usable[0]}"
        if strict:
            raise ProviderError(message)
        log.warning(message)
    return usable


def check_session(session: ort.InferenceSession, requested: Sequence[str], graph: str, strict: bool = False) -> str:
    """The provider that leads ``session``; warn (or raise) if it is not the first one asked for."""
    active = session.get_providers()
    if active and active[0] != requested[0]:
        message = f"{graph}: {requested[0]} failed to start, onnxruntime runs it on {active[0]} (see onnxruntime's log for why)"
        if strict:
            raise ProviderError(message)
        log.warning(message)
    return active[0] if active else "none"
