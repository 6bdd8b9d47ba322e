"""The exported attention (values projected late, queries in chunks) equals plain attention."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sam2auto_ros.onnx.attention import attend, project_late


def _reference(q: torch.Tensor, k: torch.Tensor, v_in: torch.Tensor, v_proj: torch.nn.Linear, heads: int) -> torch.Tensor:
    b, m, _ = v_in.shape
    v = v_proj(v_in).reshape(b, m, heads, -1).transpose(1, 2)
    return F.scaled_dot_product_attention(q, k, v)


@pytest.mark.parametrize(("heads", "c_in", "chunk"), [(1, 16, 24), (2, 8, 64), (1, 64, 7), (2, 64, 1000)])
def test_attend_matches_scaled_dot_product_attention(heads: int, c_in: int, chunk: int) -> None:
    gen = torch.Generator().manual_seed(heads * 1000 + c_in + chunk)
    dim, n, m, b = 64, 100, 130, 2
    v_proj = torch.nn.Linear(c_in, dim)
    with torch.no_grad():
        v_proj.weight.copy_(torch.randn(dim, c_in, generator=gen) / c_in**0.5)
        v_proj.bias.copy_(torch.randn(dim, generator=gen))
    q = torch.randn(b, heads, n, dim // heads, generator=gen)
    k = torch.randn(b, heads, m, dim // heads, generator=gen)
    v_in = torch.randn(b, m, c_in, generator=gen)
    with torch.no_grad():
        got = attend(q, k, v_in, v_proj, heads, query_chunk=chunk)
        want = _reference(q, k, v_in, v_proj, heads)
    assert got.shape == want.shape == (b, heads, n, dim // heads)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


def test_late_projection_only_when_it_saves_work() -> None:
    assert project_late(64, 256, 1)  # SAM 2 memory cross-attention
    assert not project_late(256, 256, 1)  # self-attention
    assert not project_late(64, 256, 8)  # 32 channels per head: weighting raw tokens costs more
