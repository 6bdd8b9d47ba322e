"""The real-arithmetic rotary encoding computes exactly what SAM 2's complex-valued one does."""

from __future__ import annotations

import pytest
import torch
from sam2.modeling.position_encoding import apply_rotary_enc
from sam2.modeling.sam.transformer import RoPEAttention

from sam2auto_ros.onnx.rotary import feature_side, real_rotary, rotary_tables, rotate_pairs


@pytest.mark.parametrize("repeat", [1, 3])
def test_rotation_equals_complex_product(torch_model: torch.nn.Module, repeat: int) -> None:
    attn = torch_model.memory_attention.layers[0].cross_attn_image
    side = 16
    cos, sin = rotary_tables(attn, side)
    gen = torch.Generator().manual_seed(1)
    q = torch.randn(2, 1, side * side, 256, generator=gen)
    k = torch.randn(2, 1, repeat * side * side, 256, generator=gen)
    q_ref, k_ref = apply_rotary_enc(q, k, freqs_cis=attn.compute_cis(end_x=side, end_y=side), repeat_freqs_k=True)
    assert torch.equal(rotate_pairs(q, cos, sin), q_ref)
    assert torch.equal(rotate_pairs(k, cos, sin), k_ref)


def test_memory_attention_same_and_restored(torch_model: torch.nn.Module) -> None:
    attention = torch_model.memory_attention
    gen = torch.Generator().manual_seed(2)
    hw, b, ptrs = 256, 3, 16
    curr, curr_pos = torch.randn(hw, b, 256, generator=gen), torch.randn(hw, b, 256, generator=gen)
    memory, memory_pos = torch.randn(2 * hw + ptrs, b, 64, generator=gen), torch.randn(2 * hw + ptrs, b, 64, generator=gen)

    def run() -> torch.Tensor:
        with torch.no_grad():
            return attention(curr=curr, curr_pos=curr_pos, memory=memory.clone(), memory_pos=memory_pos, num_obj_ptr_tokens=ptrs)

    shipped = run()
    with real_rotary(attention, feature_side(256)) as patched:
        assert patched is attention
        assert all("forward" in m.__dict__ for m in attention.modules() if isinstance(m, RoPEAttention))
        real = run()
    # same arithmetic up to float rounding (values are projected after the weighting, see attention.py)
    torch.testing.assert_close(real, shipped, rtol=0, atol=1e-5)
    # the shipped modules are back: no patched forward, no extra buffers in the state dict
    assert not any("forward" in m.__dict__ for m in attention.modules() if isinstance(m, RoPEAttention))
    assert not any("rope_" in key for key in attention.state_dict())
    assert torch.equal(run(), shipped)


def test_feature_side_rejects_sizes_off_the_stride() -> None:
    assert feature_side(1024) == 64
    with pytest.raises(ValueError, match="multiple of the backbone stride"):
        feature_side(1000)
