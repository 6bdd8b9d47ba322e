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


def session_options(precision: str, first_provider: str, threads: int | None = None) -> ort.SessionOptions:
    """Options for one graph's session: quiet, ``threads`` intra-op threads when given."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    if precision == "fp16" and first_provider == "CPUExecutionProvider":
        # onnxruntime 1.31's full (layout) optimisation level crashes on some fp16 graphs on CPU
        # (SAM 2's memory attention)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    return options


def provider_options(
    providers: Sequence[str], precision: str, engine_cache: str, shape_profile: dict[str, tuple[str, str, str]] | None = None
) -> list[tuple[str, dict[str, str]]]:
    """``providers`` with their options: TensorRT in the graph's precision, its engines cached in
    ``engine_cache`` (building one takes minutes), and, for graphs with dynamic axes, one
    optimisation profile ``{input: (min, opt, max)}`` with shapes written ``1x16``."""
    chosen = []
    for name in providers:
        opts: dict[str, str] = {}
        if name == "TensorrtExecutionProvider":
            opts = {"trt_fp16_enable": str(precision == "fp16"), "trt_engine_cache_enable": "True", "trt_engine_cache_path": engine_cache}
            if shape_profile:
                for key, column in (("trt_profile_min_shapes", 0), ("trt_profile_opt_shapes", 1), ("trt_profile_max_shapes", 2)):
                    opts[key] = ",".join(f"{inp}:{shapes[column]}" for inp, shapes in shape_profile.items())
        chosen.append((name, opts))
    return chosen
