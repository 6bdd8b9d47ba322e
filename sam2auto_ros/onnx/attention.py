"""Attention as exported: the same result as SAM 2's, in fewer operations and less memory.

ONNX opset 18 has no fused attention operator, so an exported ``scaled_dot_product_attention``
becomes MatMul -> Softmax -> MatMul and materialises the full score matrix, which torch's CPU
kernel never does. At 1024 px SAM 2's memory cross-attention has 4096 queries against ~29k
memory tokens (7 frames of 64x64 plus pointers): a 470 MB score matrix per object per layer.
Two exact rewrites, in standard operators TensorRT parses:

- **value projection after the weighting.** Memory tokens have 64 channels, projected to 256
  before attention. Since each row of softmax weights sums to 1,
  ``A (X Wᵀ + b) = (A X) Wᵀ + b``: weighting the 64-channel tokens first and projecting the
  4096 results costs a quarter of the multiply-adds of weighting 256-channel values.
- **static query chunks.** The query length is fixed by the image size, so queries are split
  into chunks of at most ``QUERY_CHUNK`` tokens at export time; each chunk's score matrix
  (a quarter of the full one at 1024 px) is a buffer onnxruntime can reuse for the next chunk, instead of the whole
  matrix being written and read back, while the memory length stays a dynamic axis.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: queries per chunk: 4096 queries (1024 px) -> 4 chunks; 1024 (512 px) or fewer -> one chunk
QUERY_CHUNK = 1024


def project_late(attn_in_dim: int, out_dim: int, num_heads: int) -> bool:
    """Whether weighting raw values and projecting afterwards is cheaper: the values' input width
    is below the per-head width (SAM 2's memory cross-attention: 64 < 256)."""
    return attn_in_dim < out_dim // num_heads


def attend(q: torch.Tensor, k: torch.Tensor, v_in: torch.Tensor, v_proj: torch.nn.Linear, num_heads: int, query_chunk: int = QUERY_CHUNK) -> torch.Tensor:
    """``softmax(q kᵀ / √d) · v_proj(v_in)`` per head, for ``q, k (B, heads, N, d)`` and un-projected
    ``v_in (B, M, C_in)``; returns ``(B, heads, N, d)`` like ``scaled_dot_product_attention``."""
    b, m, c_in = v_in.shape
    late = project_late(c_in, v_proj.out_features, num_heads)
    if late:
        values = v_in.unsqueeze(1)  # every head weights the same raw tokens
    else:
        values = v_proj(v_in).reshape(b, m, num_heads, -1).transpose(1, 2)
    chunks = [F.scaled_dot_product_attention(qc, k, values) for qc in q.split(query_chunk, dim=2)]
    out = chunks[0] if len(chunks) == 1 else torch.cat(chunks, dim=2)
    if not late:
        return out
    # per head: (B, h, N, C_in) @ (h, C_in, d) + (h, 1, d)
    head_dim = v_proj.out_features // num_heads
    weight = v_proj.weight.reshape(num_heads, head_dim, c_in).transpose(1, 2)
    out = torch.matmul(out, weight)
    if v_proj.bias is not None:
        out = out + v_proj.bias.reshape(num_heads, 1, head_dim)
    return out
