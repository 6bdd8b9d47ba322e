"""Each exported graph computes what its torch part computes, and is fit for TensorRT."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from sam2auto_ros.onnx.exporter import ExportResult, export_sam2
from sam2auto_ros.onnx.graphs import GRAPH_NAMES
from sam2auto_ros.onnx.metadata import ExportInfo, file_sha256
from sam2auto_ros.onnx.parts import OnnxSam2Parts
from sam2auto_ros.onnx.tensorrt_ops import unsupported_by_tensorrt
from sam2auto_ros.sam2.parts import TorchSam2Parts

# every test here needs the exported graphs; the first one to run waits for the export
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

TOL = 1e-4
B = 3


@pytest.fixture(scope="module")
def onnx_parts(fp32_dir: Path) -> OnnxSam2Parts:
    return OnnxSam2Parts(fp32_dir, providers=["cpu"], threads=2)


@pytest.fixture(scope="module")
def frame(torch_parts: TorchSam2Parts) -> tuple:
    pixels = torch.randn(1, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    return pixels, torch_parts.encode_image(pixels)


def _max_diff(a: tuple | list, b: tuple | list) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a, b))


def test_image_encoder(onnx_parts: OnnxSam2Parts, frame: tuple) -> None:
    pixels, (embed, pos, high) = frame
    o_embed, o_pos, o_high = onnx_parts.encode_image(pixels)
    assert _max_diff((embed, pos, *high), (o_embed, o_pos, *o_high)) <= TOL


@pytest.mark.parametrize(("frames", "ptrs"), [(1, 4), (3, 16), (2, 0)])
def test_memory_attention_dynamic_lengths(onnx_parts: OnnxSam2Parts, torch_parts: TorchSam2Parts, frame: tuple, frames: int, ptrs: int) -> None:
    _, (embed, pos, _) = frame
    gen = torch.Generator().manual_seed(frames * 100 + ptrs)
    curr, curr_pos = (t.flatten(2).permute(2, 0, 1).expand(-1, B, -1) for t in (embed, pos))
    memory = torch.randn(frames * 256 + ptrs, B, 64, generator=gen)
    memory_pos = torch.randn(frames * 256 + ptrs, B, 64, generator=gen)
    ref = torch_parts.memory_attention(curr, curr_pos, memory, memory_pos, ptrs)
    out = onnx_parts.memory_attention(curr, curr_pos, memory, memory_pos, ptrs)
    assert out.shape == ref.shape == (B, 256, 16, 16)
    assert float((out - ref).abs().max()) <= TOL


def test_memory_attention_in_query_chunks(torch_model: torch.nn.Module, torch_parts: TorchSam2Parts, checkpoint: Path, tmp_path: Path) -> None:
    """At 256 px one default chunk holds all 256 queries; a chunk of 96 exercises the chunked graph
    (96 + 96 + 64 queries) that larger images get, with the memory length still dynamic."""
    result = export_sam2(torch_model, "sam2.1_hiera_tiny", checkpoint, tmp_path, graphs=("memory_attention",), query_chunk=96)
    model = onnx.load(str(result.graphs["memory_attention"]))
    assert unsupported_by_tensorrt(model) == []
    layers = len(torch_model.memory_attention.layers)
    assert sum(n.op_type == "Softmax" for n in model.graph.node) == layers * 2 * 3  # self + cross attention, 3 chunks
    session = ort.InferenceSession(str(result.graphs["memory_attention"]), providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(11)
    for frames, ptrs, batch in [(1, 4, 1), (3, 16, 2)]:
        curr, curr_pos = torch.randn(256, batch, 256, generator=gen), torch.randn(256, batch, 256, generator=gen)
        memory, memory_pos = torch.randn(frames * 256 + ptrs, batch, 64, generator=gen), torch.randn(frames * 256 + ptrs, batch, 64, generator=gen)
        ref = torch_parts.memory_attention(curr, curr_pos, memory, memory_pos, ptrs)
        split = frames * 256
        feeds = {"curr": curr, "curr_pos": curr_pos, "memory": memory[:split], "memory_pos": memory_pos[:split], "obj_ptrs": memory[split:], "obj_ptrs_pos": memory_pos[split:]}
        (out,) = session.run(None, {k: v.contiguous().numpy() for k, v in feeds.items()})
        assert out.shape == tuple(ref.shape)
        assert float(np.abs(out - ref.numpy()).max()) <= TOL


def _prompts(gen: torch.Generator) -> dict[str, tuple]:
    labels = lambda *ls: torch.tensor([list(ls)] * B, dtype=torch.int32)  # noqa: E731
    return {
        "tracking": (None, None, None, True),
        "points": (torch.rand(B, 2, 2, generator=gen) * 256, labels(1, 0), None, True),
        "box": (torch.rand(B, 2, 2, generator=gen) * 256, labels(2, 3), None, False),
        "box+5 points": (torch.rand(B, 7, 2, generator=gen) * 256, labels(2, 3, 1, 1, 0, 1, 0), None, False),
        "mask": (None, None, torch.randn(B, 1, 64, 64, generator=gen) * 5, False),
        "point+mask": (torch.rand(B, 1, 2, generator=gen) * 256, labels(1), torch.randn(B, 1, 64, 64, generator=gen), True),
    }


@pytest.mark.parametrize("case", list(_prompts(torch.Generator())))
def test_sam_heads(onnx_parts: OnnxSam2Parts, torch_parts: TorchSam2Parts, frame: tuple, case: str) -> None:
    _, (_, _, high) = frame
    gen = torch.Generator().manual_seed(7)
    pix = torch.randn(B, 256, 16, 16, generator=gen)
    coords, labels, mask, multimask = _prompts(gen)[case]
    shared = tuple(h.expand(B, -1, -1, -1) for h in high)
    ref = torch_parts.sam_heads(pix, shared, coords, labels, mask, multimask)
    out = onnx_parts.sam_heads(pix, shared, coords, labels, mask, multimask)
    # high_res_masks is optional (None: the engine upsamples); the onnx backend leaves it to the engine
    names = [f.name for f in fields(ref) if getattr(out, f.name) is not None]
    assert names == ["low_res_masks", "iou", "obj_ptr", "object_score_logits"]
    for name in names:
        assert getattr(out, name).shape == getattr(ref, name).shape, name
    assert _max_diff([getattr(ref, n) for n in names], [getattr(out, n) for n in names]) <= TOL
    # objects on different frames (per-object features) take the row-by-row path
    distinct = tuple(torch.randn(B, *h.shape[1:], generator=gen) for h in high)
    ref = torch_parts.sam_heads(pix, distinct, coords, labels, mask, multimask)
    out = onnx_parts.sam_heads(pix, distinct, coords, labels, mask, multimask)
    assert _max_diff([getattr(ref, n) for n in names], [getattr(out, n) for n in names]) <= TOL


def test_memory_encoder(onnx_parts: OnnxSam2Parts, torch_parts: TorchSam2Parts) -> None:
    gen = torch.Generator().manual_seed(3)
    pix = torch.randn(B, 256, 16, 16, generator=gen)
    mask = torch.rand(B, 1, 256, 256, generator=gen) * 20 - 10
    scores = torch.tensor([[1.5], [-0.5], [3.0]])  # one object judged absent: no-object embedding
    ref = torch_parts.encode_memory(pix, mask, scores)
    assert _max_diff(ref, onnx_parts.encode_memory(pix, mask, scores)) <= TOL


def test_metadata_and_constants(onnx_parts: OnnxSam2Parts, torch_parts: TorchSam2Parts, checkpoint: Path) -> None:
    info = onnx_parts.info
    assert (info.model, info.image_size, info.precision, info.opset) == ("sam2.1_hiera_tiny", 256, "fp32", 18)
    assert info.checkpoint_sha256 == file_sha256(checkpoint)
    assert info.settings == torch_parts.settings
    for f in fields(torch_parts.constants):
        ref, got = getattr(torch_parts.constants, f.name), getattr(onnx_parts.constants, f.name)
        assert (ref is None) == (got is None), f.name
        if ref is not None:
            assert torch.equal(ref.float(), got), f.name


def _check_files(directory: Path, precision: str) -> None:
    for name in GRAPH_NAMES:
        path = directory / f"{name}.onnx"
        onnx.checker.check_model(str(path), full_check=True)
        model = onnx.load(str(path))
        assert unsupported_by_tensorrt(model) == [], name
        info, graph = ExportInfo.from_props({p.key: p.value for p in model.metadata_props}, str(path))
        assert (graph, info.precision) == (name, precision)
        if precision == "fp16":
            # weights really are half precision (float32 left: rotary tables, point encoding); edges stay float32
            count = {onnx.TensorProto.FLOAT16: 0, onnx.TensorProto.FLOAT: 0}
            for init in model.graph.initializer:
                if init.data_type in count:
                    count[init.data_type] += int(np.prod(init.dims))
            assert count[onnx.TensorProto.FLOAT16] > 0.9 * sum(count.values()), name
        assert all(i.type.tensor_type.elem_type != onnx.TensorProto.FLOAT16 for i in [*model.graph.input, *model.graph.output])


def test_fp32_files_pass_checker_and_tensorrt_list(fp32_dir: Path) -> None:
    _check_files(fp32_dir, "fp32")


def test_fp16_files_pass_checker_and_tensorrt_list(fp16_export: ExportResult) -> None:
    _check_files(fp16_export.directory, "fp16")
    assert fp16_export.tensorrt_problems == {}


def test_dynamic_axes(fp32_dir: Path) -> None:
    def dims(graph: str, name: str) -> list:
        model = onnx.load(str(fp32_dir / f"{graph}.onnx"), load_external_data=False)
        value = next(i for i in model.graph.input if i.name == name)
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]

    assert all(isinstance(d, str) for d in dims("memory_attention", "memory")[:2])
    assert isinstance(dims("memory_attention", "obj_ptrs")[0], str)
    assert all(isinstance(d, str) for d in dims("sam_heads", "point_coords")[:2])
    assert dims("image_encoder", "pixels") == [1, 3, 256, 256]
    assert np.prod(dims("sam_heads", "feat_s0")) == 32 * 64 * 64
