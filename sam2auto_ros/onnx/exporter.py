"""Export a SAM 2 checkpoint to the four ONNX graphs the onnxruntime backend runs.

One call writes ``image_encoder.onnx``, ``memory_attention.onnx``, ``sam_heads.onnx``,
``memory_encoder.onnx`` and ``constants.npz`` into one folder (by default
``models/onnx/<model>-<size>-<precision>/``). Tracing uses the dynamo exporter (``torch.export``),
which keeps batch, prompt-point count, memory length and pointer count dynamic; memory
attention is traced with SAM 2's rotary encoding rewritten in real arithmetic and its attention
restructured to build the query x memory scores one chunk of queries at a time and to weight
memory tokens before their value projection (:mod:`sam2auto_ros.onnx.attention`). fp16 graphs are
traced from a half-precision copy of the model and keep float32 inputs and outputs (casts at
the graph edges), so callers never change.

Every graph is stamped with :class:`ExportInfo`, passed through ``onnx.checker`` and checked
against TensorRT's operator list; a graph TensorRT could not parse is reported, not hidden.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import onnx
import torch

from sam2auto_ros.onnx.attention import QUERY_CHUNK
from sam2auto_ros.onnx.graphs import GRAPH_NAMES, GraphSpec, graph_specs
from sam2auto_ros.onnx.metadata import CONSTANTS_FILE, ExportInfo, file_sha256, save_constants, stamp
from sam2auto_ros.onnx.rotary import real_rotary
from sam2auto_ros.onnx.tensorrt_ops import TENSORRT_OPSET_RANGE, unsupported_by_tensorrt
from sam2auto_ros.sam2.parts import TorchSam2Parts
from sam2auto_ros.sam2.registry import models_home

log = logging.getLogger(__name__)

#: the dynamo exporter's lowest opset is 18; TensorRT 10.0's parser reads up to 20
SUPPORTED_OPSETS = range(18, TENSORRT_OPSET_RANGE[1] + 1)
DEFAULT_OPSET = 18
PRECISIONS = ("fp32", "fp16")
#: inputs that stay float32 in fp16 graphs: pixel coordinates up to 1024 need more than fp16's
#: 11 bits, and SAM 2's point encoding computes in float32 anyway
_FLOAT32_INPUTS = frozenset({"point_coords"})


class ExportError(RuntimeError):
    """The export could not produce graphs that meet the request."""


@dataclass
class ExportResult:
    """What one export wrote and how long each step took."""

    directory: Path
    info: ExportInfo
    graphs: dict[str, Path]
    seconds: dict[str, float] = field(default_factory=dict)
    tensorrt_problems: dict[str, list[str]] = field(default_factory=dict)


def default_export_dir(model: str, image_size: int, precision: str, root: str | os.PathLike[str] | None = None) -> Path:
    """``<models folder>/onnx/<model>-<size>-<precision>`` (see ``registry.models_home``)."""
    return Path(root if root is not None else models_home() / "onnx") / f"{model}-{image_size}-{precision}"


class EdgeCasts(torch.nn.Module):
    """Runs a graph module in ``dtype`` while its inputs and outputs stay float32."""

    def __init__(self, inner: torch.nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.inner, self.dtype = inner, dtype
        self.input_names, self.output_names = inner.input_names, inner.output_names

    def forward(self, *args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        cast = [a.to(self.dtype) if a.is_floating_point() and n not in _FLOAT32_INPUTS else a for a, n in zip(args, self.input_names)]
        out = self.inner(*cast)
        outs = (out,) if isinstance(out, torch.Tensor) else tuple(out)
        return tuple(o.float() if o.is_floating_point() else o for o in outs)


def export_graph(
    spec: GraphSpec, dtype: torch.dtype, path: Path, opset: int, stamp_graph: Callable[[onnx.ModelProto], None]
) -> list[str]:
    """Trace ``spec`` in ``dtype`` (float32 at the edges) to ``path``, check its opset, stamp it,
    pass it through ``onnx.checker`` and save it; returns what TensorRT's parser would refuse."""
    trace_graph(spec, EdgeCasts(spec.module, dtype).eval(), path, opset)  # wrappers are new modules: eval
    proto = onnx.load(str(path))
    got = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if got != opset:
        raise ExportError(f"{spec.name}: the exporter wrote opset {got}, not the requested {opset}")
    stamp_graph(proto)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(path))
    problems = unsupported_by_tensorrt(proto)
    if problems:
        log.warning("%s uses what TensorRT cannot parse: %s", spec.name, "; ".join(problems))
    return problems


def half_precision_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A float16 copy of ``model`` whose prompt point encoding stays float32 (as in ``sam2``)."""
    half = copy.deepcopy(model).half()
    half.sam_prompt_encoder.pe_layer.float()
    return half


def trace_graph(spec: GraphSpec, module: torch.nn.Module, path: Path, opset: int) -> None:
    names = list(module.input_names)
    # one entry for EdgeCasts.forward(*args), holding one spec per argument
    shapes = None if spec.dynamic_shapes is None else (tuple(spec.dynamic_shapes.get(n) for n in names),)
    chatter = io.StringIO()
    with torch.no_grad(), contextlib.redirect_stdout(chatter):
        torch.onnx.export(
            module,
            spec.example_inputs,
            str(path),
            input_names=names,
            output_names=list(module.output_names),
            dynamic_shapes=shapes,
            opset_version=opset,
            dynamo=True,
            external_data=False,
        )
    log.debug("exporter output for %s:\n%s", spec.name, chatter.getvalue())


def export_sam2(
    model: torch.nn.Module,
    model_name: str,
    checkpoint: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    precision: str = "fp32",
    opset: int = DEFAULT_OPSET,
    graphs: tuple[str, ...] = GRAPH_NAMES,
    progress: Callable[[str], None] | None = None,
    query_chunk: int = QUERY_CHUNK,
) -> ExportResult:
    """Export ``model`` (built from ``checkpoint``) into ``out_dir``.

    ``checkpoint`` is the file the weights came from; its SHA-256 goes into every graph so a
    loader can tell graphs of different checkpoints apart. ``query_chunk``: queries per
    attention chunk in memory attention (see :mod:`sam2auto_ros.onnx.attention`).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if opset not in SUPPORTED_OPSETS:
        raise ValueError(
            f"opset {opset} not supported: the dynamo exporter starts at 18 and TensorRT 10's ONNX parser "
            f"reads up to {TENSORRT_OPSET_RANGE[1]}; choose {SUPPORTED_OPSETS.start}..{SUPPORTED_OPSETS.stop - 1}"
        )
    unknown = set(graphs) - set(GRAPH_NAMES)
    if unknown:
        raise ValueError(f"unknown graphs {sorted(unknown)}; choose from {GRAPH_NAMES}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    model = model.eval().cpu()
    parts32 = TorchSam2Parts(model)
    settings = parts32.settings
    info = ExportInfo(model_name, settings.image_size, file_sha256(checkpoint), precision, opset, settings)
    result = ExportResult(out, info, {})
    result.seconds["hash"] = time.perf_counter() - started

    dtype = torch.float16 if precision == "fp16" else torch.float32
    # trace a copy: tracing fills module caches (e.g. position-encoding caches) with traced values
    traced_model = half_precision_copy(model) if dtype == torch.float16 else copy.deepcopy(model)
    parts = TorchSam2Parts(traced_model)
    with real_rotary(traced_model.memory_attention, settings.feat_size, query_chunk):
        for spec in graph_specs(parts):
            if spec.name not in graphs:
                continue
            if progress:
                progress(f"exporting {spec.name} ({precision}, opset {opset})")
            t0 = time.perf_counter()
            path = out / f"{spec.name}.onnx"
            problems = export_graph(spec, dtype, path, opset, functools.partial(stamp, info=info, graph=spec.name))
            result.graphs[spec.name] = path
            if problems:
                result.tensorrt_problems[spec.name] = problems
            result.seconds[spec.name] = time.perf_counter() - t0
    save_constants(out / CONSTANTS_FILE, parts32.constants, info)
    result.seconds["total"] = time.perf_counter() - started
    return result
