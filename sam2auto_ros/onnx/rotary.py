"""SAM 2's rotary position encoding in real arithmetic, so memory attention exports to ONNX.

The shipped ``RoPEAttention`` rotates query/key pairs by multiplying with complex numbers
(``torch.view_as_complex`` / ``torch.polar``); ONNX has no complex type, so the exporters
reject it. A complex product ``(a + ib)(c + is)`` is ``(ac - bs) + i(as + bc)``: the same
rotation written with cosine and sine tables. ``real_rotary`` swaps ``RoPEAttention.forward``
for this form on one module tree for the duration of an export; the installed ``sam2`` is never
edited and the modules are restored afterwards.
"""

from __future__ import annotations

import contextlib
import math
import types
from collections.abc import Iterator

import torch
from sam2.modeling.sam.transformer import RoPEAttention

from sam2auto_ros.onnx.attention import QUERY_CHUNK, attend


def rotary_tables(attn: RoPEAttention, side: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine and sine tables ``(side*side, head_dim/2)`` of ``attn``'s rotation on a square grid.

    Computed by the shipped complex-valued ``compute_cis`` so the angles are SAM 2's own.
    """
    cis = attn.compute_cis(end_x=side, end_y=side)
    return cis.real.contiguous(), cis.imag.contiguous()


def rotate_pairs(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate consecutive channel pairs of ``x`` ``(B, heads, N, D)`` by the tables ``(T, D/2)``.

    ``N`` must be a multiple of ``T``: keys of ``k`` memory frames reuse the same ``T`` angles
    (SAM 2's ``rope_k_repeat``). Computed in float32, returned in ``x``'s dtype, like the shipped
    code.
    """
    b, h, n, d = x.shape
    t = cos.shape[0]
    pairs = x.float().reshape(b, h, n // t, t, d // 2, 2)
    even, odd = pairs[..., 0], pairs[..., 1]
    c, s = cos.float(), sin.float()
    rotated = torch.stack((even * c - odd * s, even * s + odd * c), dim=-1)
    return rotated.reshape(b, h, n, d).to(x.dtype)


def _real_rope_forward(
    self: RoPEAttention, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_k_exclude_rope: int = 0
) -> torch.Tensor:
    """``RoPEAttention.forward`` with the rotation in real arithmetic and no in-place writes; the
    attention itself is :func:`sam2auto_ros.onnx.attention.attend` (values projected late, queries
    in static chunks)."""
    q = self._separate_heads(self.q_proj(q), self.num_heads)
    k = self._separate_heads(self.k_proj(k), self.num_heads)
    cos, sin = self.rope_cos, self.rope_sin
    if q.shape[-2] != cos.shape[0]:
        raise ValueError(f"rotary tables cover {cos.shape[0]} tokens, query has {q.shape[-2]}")
    if q.shape[-2] != k.shape[-2] and not self.rope_k_repeat:
        raise ValueError("keys longer than queries need rope_k_repeat")
    q = rotate_pairs(q, cos, sin)
    num_k_rope = k.shape[-2] - num_k_exclude_rope
    k_rot = rotate_pairs(k[:, :, :num_k_rope], cos, sin)
    k = torch.cat((k_rot, k[:, :, num_k_rope:]), dim=2) if num_k_exclude_rope else k_rot
    out = attend(q, k, v, self.v_proj, self.num_heads, self.query_chunk)
    return self.out_proj(self._recombine_heads(out))


@contextlib.contextmanager
def real_rotary(module: torch.nn.Module, feature_side: int, query_chunk: int = QUERY_CHUNK) -> Iterator[torch.nn.Module]:
    """Within the block, every ``RoPEAttention`` under ``module`` uses real cos/sin arithmetic
    and attends ``query_chunk`` queries at a time.

    ``feature_side`` is the side of the square feature grid (image size / backbone stride) the
    tables are built for. The tables are attached as buffers (so they follow ``.to()`` and
    become graph constants) and removed on exit together with the patched ``forward``.
    """
    if query_chunk < 1:
        raise ValueError(f"query_chunk must be >= 1, got {query_chunk}")
    patched = [m for m in module.modules() if isinstance(m, RoPEAttention)]
    try:
        for attn in patched:
            attn.query_chunk = query_chunk
            cos, sin = rotary_tables(attn, feature_side)
            dev = next(attn.parameters()).device
            attn.register_buffer("rope_cos", cos.to(dev), persistent=False)
            attn.register_buffer("rope_sin", sin.to(dev), persistent=False)
            attn.forward = types.MethodType(_real_rope_forward, attn)
        yield module
    finally:
        for attn in patched:
            attn.__dict__.pop("forward", None)
            attn.__dict__.pop("query_chunk", None)
            for name in ("rope_cos", "rope_sin"):
                attn._buffers.pop(name, None)


def feature_side(image_size: int, backbone_stride: int = 16) -> int:
    """Side of the top-level feature grid SAM 2 attends over."""
    side = image_size / backbone_stride
    if side != math.floor(side):
        raise ValueError(f"image size {image_size} is not a multiple of the backbone stride {backbone_stride}")
    return int(side)
