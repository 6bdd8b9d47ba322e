"""TorchSam2Parts' CPU fast paths compute what the stock ``sam2`` modules compute.

On a CPU a batch of objects goes object by object, with the frame-only work done once; the
Hiera position embedding is kept between images. Each is compared with the unmodified module
calls of an identical model (same random weights).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from sam2auto_ros.sam2.image import to_model_input
from sam2auto_ros.sam2.loading import build_model
from sam2auto_ros.sam2.parts import TorchSam2Parts

from .conftest import MODEL
from .scenario import synthetic_video

SIZE = 256
BATCH = 3


@pytest.fixture(scope="module")
def models(tiny_checkpoint: Path) -> tuple[TorchSam2Parts, torch.nn.Module]:
    """Parts on one model, and an untouched twin to call the stock modules on."""
    return TorchSam2Parts(build_model(MODEL, checkpoint=tiny_checkpoint, image_size=SIZE)), build_model(MODEL, checkpoint=tiny_checkpoint, image_size=SIZE)


def _rand(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("shared_frame", [True, False])
def test_memory_attention_object_by_object_equals_the_batched_module(models: tuple[TorchSam2Parts, torch.nn.Module], shared_frame: bool) -> None:
    parts, twin = models
    side = parts.settings.feat_size
    hw, n_ptr = side * side, 8
    if shared_frame:  # what the engine passes: one frame's features expanded over the objects
        curr, curr_pos = _rand(hw, 1, 256, seed=0).expand(-1, BATCH, -1), _rand(hw, 1, 256, seed=1).expand(-1, BATCH, -1)
    else:
        curr, curr_pos = _rand(hw, BATCH, 256, seed=0), _rand(hw, BATCH, 256, seed=1)
    memory, memory_pos = _rand(2 * hw + n_ptr, BATCH, 64, seed=2), _rand(2 * hw + n_ptr, BATCH, 64, seed=3)
    got = parts.memory_attention(curr, curr_pos, memory, memory_pos, n_ptr)
    with torch.inference_mode():
        want = twin.memory_attention(curr=[curr], curr_pos=[curr_pos], memory=memory, memory_pos=memory_pos, num_obj_ptr_tokens=n_ptr)
    want = want.permute(1, 2, 0).reshape(BATCH, 256, side, side)
    assert got.shape == want.shape
    assert torch.allclose(got, want, atol=1e-5, rtol=0), float((got - want).abs().max())
    assert not torch.allclose(got[0], got[1])  # objects with different memories differ


@pytest.mark.parametrize("shared_frame", [True, False])
def test_memory_encoder_object_by_object_equals_the_batched_module(models: tuple[TorchSam2Parts, torch.nn.Module], shared_frame: bool) -> None:
    parts, twin = models
    side = parts.settings.feat_size
    pix = _rand(1, 256, side, side, seed=4).expand(BATCH, -1, -1, -1) if shared_frame else _rand(BATCH, 256, side, side, seed=4)
    masks = torch.rand(BATCH, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(5))
    scores = torch.tensor([[1.0], [-1.0], [2.0]])
    features, pos = parts.encode_memory(pix, masks, scores)
    with torch.inference_mode():
        out = twin.memory_encoder(pix, masks, skip_mask_sigmoid=True)
    absent = (scores <= 0).float()[..., None, None]
    want = out["vision_features"] + absent * twin.no_obj_embed_spatial[..., None, None]
    assert torch.allclose(features, want, atol=1e-5, rtol=0), float((features - want).abs().max())
    assert torch.equal(pos, out["vision_pos_enc"][-1])


def test_image_encoder_keeps_the_position_embedding_until_the_weights_change(models: tuple[TorchSam2Parts, torch.nn.Module]) -> None:
    parts, twin = models
    pixels = to_model_input(synthetic_video(1)[0], SIZE, parts.device)
    for _ in range(2):  # the second image reads the kept embedding
        embed, _, (s0, _) = parts.encode_image(pixels)
        with torch.inference_mode():
            want = twin.forward_image(pixels)["backbone_fpn"]
        assert torch.equal(embed, want[-1]) and torch.equal(s0, want[0])

    copied = copy.deepcopy(parts.model)  # a copy's embedding comes from the copy's weights
    with torch.no_grad():
        for model in (parts.model, twin, copied):
            model.image_encoder.trunk.pos_embed.mul_(0.5)
        copied.image_encoder.trunk.pos_embed.add_(1.0)
    embed, _, _ = parts.encode_image(pixels)
    copy_embed, _, _ = TorchSam2Parts(copied).encode_image(pixels)
    with torch.inference_mode():
        want = twin.forward_image(pixels)["backbone_fpn"][-1]
    assert torch.equal(embed, want)
    assert not torch.allclose(copy_embed, want)
