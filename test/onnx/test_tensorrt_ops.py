"""The TensorRT operator check flags what TensorRT's parser would reject, and only that."""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper

from sam2auto_ros.onnx.tensorrt_ops import TENSORRT_SUPPORTED_OPS, unsupported_by_tensorrt


def _model(op: str, opset: int = 18, domain: str = "") -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    graph = helper.make_graph([helper.make_node(op, ["x"], ["y"], domain=domain)], "g", [x], [y])
    imports = [helper.make_opsetid("", opset)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    return helper.make_model(graph, opset_imports=imports)


def test_supported_graph_passes() -> None:
    assert unsupported_by_tensorrt(_model("Relu")) == []


def test_flags_unsupported_operator_custom_domain_and_opset() -> None:
    # Unique is listed as "N" in onnx-tensorrt's operators.md
    assert "Unique" not in TENSORRT_SUPPORTED_OPS
    assert any("Unique" in p for p in unsupported_by_tensorrt(_model("Unique")))
    assert any("non-standard domain" in p for p in unsupported_by_tensorrt(_model("Relu", domain="com.microsoft")))
    assert any("opset 21" in p for p in unsupported_by_tensorrt(_model("Relu", opset=21)))


def test_looks_inside_subgraphs() -> None:
    inner_out = helper.make_tensor_value_info("z", TensorProto.FLOAT, [2])
    branch = helper.make_graph([helper.make_node("Unique", ["x"], ["z"])], "b", [], [inner_out])
    cond = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    node = helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=branch)
    model = helper.make_model(helper.make_graph([node], "g", [cond, x], [y]), opset_imports=[helper.make_opsetid("", 18)])
    assert any("Unique" in p for p in unsupported_by_tensorrt(model))
