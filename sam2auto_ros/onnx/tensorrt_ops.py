"""Which ONNX operators TensorRT's ONNX parser accepts, and a check of a graph against them.

Source: onnx/onnx-tensorrt, ``docs/operators.md`` at commit
96e781103cfc4adf4a6bb557e94bac8e693f6f4c (2024-06-17, "TensorRT 10.0 supports operators in the
inclusive range of opset 9 to opset 20"), the rows marked ``Y``. The list is written out here,
not fetched, so a check never depends on the network; when TensorRT's parser grows, update it
from that file. Restrictions in the table's last column that matter for SAM 2 graphs (e.g.
``Resize`` modes, ``Conv`` weights as initializers) are checked by building an engine on a GPU
machine, not here.
"""

from __future__ import annotations

from collections.abc import Iterable

import onnx

#: opsets of the default ONNX domain the parser accepts (inclusive).
TENSORRT_OPSET_RANGE = (9, 20)

TENSORRT_SUPPORTED_OPS = frozenset(
    ["Abs", "Acos", "Acosh", "Add", "And", "ArgMax", "ArgMin", "Asin", "Asinh", "Atan", "Atanh", "AveragePool", "BatchNormalization", "Cast", "CastLike", "Ceil", "Celu", "Clip", "Concat", "Constant", "ConstantOfShape", "Conv", "ConvTranspose", "Cos", "Cosh", "CumSum", "DeformConv", "DepthToSpace", "DequantizeLinear", "Div", "Dropout", "Einsum", "Elu", "Equal", "Erf", "Exp", "Expand", "EyeLike", "Flatten", "Floor", "Gather", "GatherElements", "GatherND", "Gelu", "Gemm", "GlobalAveragePool", "GlobalLpPool", "GlobalMaxPool", "Greater", "GreaterOrEqual", "GridSample", "GroupNormalization", "GRU", "HardSigmoid", "HardSwish", "Hardmax", "Identity", "If", "ImageScaler", "InstanceNormalization", "IsInf", "IsNaN", "LayerNormalization", "LeakyRelu", "Less", "LessOrEqual", "Log", "LogSoftmax", "Loop", "LRN", "LSTM", "LpNormalization", "LpPool", "MatMul", "Max", "MaxPool", "Mean", "MeanVarianceNormalization", "Min", "Mish", "Mod", "Mul", "Neg", "NonMaxSuppression", "NonZero", "Not", "OneHot", "Or", "Pad", "ParametricSoftplus", "Pow", "PRelu", "QuantizeLinear", "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Range", "Reciprocal", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare", "Relu", "Reshape", "Resize", "ReverseSequence", "RNN", "RoiAlign", "Round", "ScaledTanh", "Scan", "Scatter", "ScatterElements", "ScatterND", "Selu", "Shape", "Shrink", "Sigmoid", "Sign", "Sin", "Sinh", "Size", "Slice", "Softmax", "Softplus", "Softsign", "SpaceToDepth", "Split", "Sqrt", "Squeeze", "Sub", "Sum", "Tan", "Tanh", "ThresholdedRelu", "Tile", "TopK", "Transpose", "Trilu", "Unsqueeze", "Upsample", "Where", "Xor"]
)


def _op_types(graph: onnx.GraphProto) -> Iterable[tuple[str, str]]:
    """(domain, op_type) of every node, including those inside If/Loop/Scan bodies."""
    for node in graph.node:
        yield node.domain, node.op_type
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from _op_types(attr.g)
            for sub in attr.graphs:
                yield from _op_types(sub)


def unsupported_by_tensorrt(model: onnx.ModelProto) -> list[str]:
    """Problems TensorRT's parser would report for ``model``: operators off the list, other
    domains (custom ops), an opset outside the supported range. Empty when the graph is fine."""
    problems: list[str] = []
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx"):
            lo, hi = TENSORRT_OPSET_RANGE
            if not lo <= opset.version <= hi:
                problems.append(f"opset {opset.version} outside TensorRT's {lo}..{hi}")
    seen: set[str] = set()
    for domain, op in _op_types(model.graph):
        name = f"{domain}::{op}" if domain not in ("", "ai.onnx") else op
        if name in seen:
            continue
        seen.add(name)
        if domain not in ("", "ai.onnx"):
            problems.append(f"operator {name} from a non-standard domain")
        elif op not in TENSORRT_SUPPORTED_OPS:
            problems.append(f"operator {op} is not supported by TensorRT's ONNX parser")
    return problems
