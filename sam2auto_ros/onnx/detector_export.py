"""Export OWLv2 as two ONNX graphs: the text tower, and the image tower with its box and class heads.

``export_owlv2`` writes ``owlv2_text.onnx`` and ``owlv2_image.onnx`` plus the model's processor
files (tokenizer, image pre-processing) into one folder, by default
``models/onnx/<model>-<size>-<precision>/``; :class:`~sam2auto_ros.smart_od.detectors.owlv2_onnx.OnnxOwlv2Towers`
runs it. The graphs are traced with the dynamo exporter from the very modules the torch backend
runs (:mod:`sam2auto_ros.smart_od.detectors.owlv2`); the text graph keeps the number of names
dynamic (1..``max_queries``), the image graph has fixed shapes, ``max_queries`` query slots, so
TensorRT builds one engine for it. fp16 graphs are traced from a half-precision copy and keep
float32 inputs and outputs. Each graph is stamped with :class:`DetectorExportInfo`, passed through
``onnx.checker`` and checked against TensorRT's operator list.

optimum's ONNX exporter (``optimum-onnx``) knows OWLv2 only as one graph taking token ids and
pixels together (its ``zero-shot-object-detection`` task), which is the cut this export exists to
avoid, so neither half is made with it.

Grounding DINO is not exported; it runs on torch (``detector.backend: grounding_dino``). Its
text and image features are fused inside the encoder, so no cut gives a per-vocabulary text graph
(the text only could enter as tokens, padded to ``max_text_len``), and with transformers 5.23 /
torch 2.13 even that graph does not come out right: the phrase masks are built with ``cummax`` /
``isin``, which neither exporter translates; with the masks fed in as inputs instead, the dynamo
exporter stops at ``aten._is_all_true`` and ``aten._local_scalar_dense`` (the model reads tensor
values into Python), and the legacy tracer bakes those branches in and gives NaN logits in
onnxruntime (tiny random configuration). Its cost on torch is ``bench_detector.py``'s ``gdino`` row.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx
import torch

from sam2auto_ros.onnx.detector_metadata import DetectorExportInfo, config_fingerprint
from sam2auto_ros.onnx.exporter import DEFAULT_OPSET, PRECISIONS, SUPPORTED_OPSETS, export_graph
from sam2auto_ros.onnx.graphs import GraphSpec
from sam2auto_ros.smart_od.detectors.owlv2 import Owlv2ImageTower, Owlv2TextTower

log = logging.getLogger(__name__)

TEXT_GRAPH = "owlv2_text"
IMAGE_GRAPH = "owlv2_image"
OWLV2_GRAPHS = (TEXT_GRAPH, IMAGE_GRAPH)
#: the export's description, read before any graph is opened (it sizes TensorRT's profiles)
EXPORT_INFO_FILE = "detector_export.json"
#: query slots of the image graph unless asked otherwise (LVIS-sized vocabularies need more)
DEFAULT_MAX_QUERIES = 100


@dataclass
class DetectorExportResult:
    directory: Path
    info: DetectorExportInfo
    graphs: dict[str, Path]
    seconds: dict[str, float] = field(default_factory=dict)
    tensorrt_problems: dict[str, list[str]] = field(default_factory=dict)


def _stamp(proto: onnx.ModelProto, info: DetectorExportInfo, graph: str) -> None:
    onnx.helper.set_model_props(proto, info.to_props(graph))


def owlv2_graph_specs(model: Any, max_queries: int) -> list[GraphSpec]:
    """The two graphs of ``model`` with example inputs at its configured image size."""
    config = model.config
    length = int(config.text_config.max_position_embeddings)
    size = int(config.vision_config.image_size)
    dim = int(config.projection_dim)
    names = torch.export.Dim("names", min=1, max=max(2, max_queries))
    # ids of ordinary tokens (the example must not hit the end-of-text id, which pooling looks for)
    example_ids = torch.ones((2, length), dtype=torch.int64)
    return [
        GraphSpec(TEXT_GRAPH, Owlv2TextTower(model).eval(), (example_ids,), {"input_ids": {0: names}}),
        GraphSpec(IMAGE_GRAPH, Owlv2ImageTower(model).eval(),
                  (torch.zeros(1, 3, size, size), torch.zeros(1, max_queries, dim)), None),
    ]


def export_owlv2(
    model: Any,
    processor: Any,
    model_name: str,
    out_dir: str | os.PathLike[str],
    *,
    weights_sha256: str = "",
    precision: str = "fp32",
    opset: int = DEFAULT_OPSET,
    max_queries: int = DEFAULT_MAX_QUERIES,
    progress: Callable[[str], None] | None = None,
) -> DetectorExportResult:
    """Export ``model`` (an ``Owlv2ForObjectDetection``) and save ``processor`` beside the graphs."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if opset not in SUPPORTED_OPSETS:
        raise ValueError(f"opset {opset} not supported; choose {SUPPORTED_OPSETS.start}..{SUPPORTED_OPSETS.stop - 1}")
    if max_queries < 1:
        raise ValueError(f"max_queries must be >= 1, got {max_queries}")
    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model.eval().cpu()
    config = model.config
    info = DetectorExportInfo(
        family="owlv2", model=model_name, config_sha256=config_fingerprint(config.to_dict()), weights_sha256=weights_sha256,
        image_size=int(config.vision_config.image_size), precision=precision, opset=opset, max_queries=max_queries,
        text_length=int(config.text_config.max_position_embeddings), embed_dim=int(config.projection_dim),
        torch_version=torch.__version__, onnx_version=onnx.__version__,
    )
    dtype = torch.float16 if precision == "fp16" else torch.float32
    traced = copy.deepcopy(model).to(dtype)
    result = DetectorExportResult(out, info, {})
    for spec in owlv2_graph_specs(traced, max_queries):
        if progress:
            progress(f"exporting {spec.name} ({precision}, opset {opset})")
        t0 = time.perf_counter()
        path = out / f"{spec.name}.onnx"
        problems = export_graph(spec, dtype, path, opset, functools.partial(_stamp, info=info, graph=spec.name))
        result.graphs[spec.name] = path
        if problems:
            result.tensorrt_problems[spec.name] = problems
        result.seconds[spec.name] = time.perf_counter() - t0
    processor.save_pretrained(str(out))
    (out / EXPORT_INFO_FILE).write_text(json.dumps(info.to_props("folder"), indent=1, sort_keys=True))
    result.seconds["total"] = time.perf_counter() - started
    return result
