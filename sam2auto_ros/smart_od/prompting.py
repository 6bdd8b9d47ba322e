"""SAM 2 prompt decoding on a frame's precomputed features (the image path, no torchvision).

SMART-OD never encodes a frame itself: the engine encodes it once and both the automatic mask
generator (point prompts) and the box-prompt fallback for unmatched detections decode on those
features. Features follow the engine's ``FrameFeatures`` layout: ``image_embed`` (1, C, h, w)
*without* ``no_mem_embed``, ``high_res_feats`` already through ``conv_s0``/``conv_s1``, and
``orig_hw`` (the frame's height and width). The image path adds ``no_mem_embed`` here, as
SAM 2's own image predictor does, so the same features also serve the video tracker.
"""

from __future__ import annotations

from typing import Protocol, Sequence

import torch
import torch.nn.functional as F


class FeaturesLike(Protocol):
    """What prompt decoding needs from an encoded frame (the engine's ``FrameFeatures``)."""

    image_embed: torch.Tensor
    high_res_feats: Sequence[torch.Tensor]
    orig_hw: tuple[int, int]


class PromptDecodingError(ValueError):
    """Features or prompts that do not fit the model they are decoded with."""


def _image_embedding(model, features: FeaturesLike) -> torch.Tensor:
    embed = features.image_embed
    expected = model.sam_prompt_encoder.image_embedding_size
    if embed.ndim != 4 or embed.shape[0] != 1 or tuple(embed.shape[-2:]) != tuple(expected):
        raise PromptDecodingError(
            f"image_embed has shape {tuple(embed.shape)}, this model decodes (1, C, {expected[0]}, "
            f"{expected[1]}): encode the frame with the same model and image size"
        )
    if getattr(model, "directly_add_no_mem_embed", False):
        embed = embed + model.no_mem_embed.view(1, -1, 1, 1)
    return embed


def to_model_coords(model, xy: torch.Tensor, orig_hw: tuple[int, int]) -> torch.Tensor:
    """Pixel ``(x, y)`` of the original frame -> the model's square input frame."""
    height, width = orig_hw
    scale = torch.tensor([model.image_size / width, model.image_size / height], dtype=xy.dtype)
    return xy * scale.to(xy.device)


@torch.no_grad()
def decode_prompts(
    model,
    features: FeaturesLike,
    coords: torch.Tensor,
    labels: torch.Tensor,
    multimask_output: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode a batch of prompts: ``coords`` (B, N, 2) pixels, ``labels`` (B, N) SAM labels.

    Returns low-resolution mask logits (B, M, image_size/4, image_size/4) and predicted IoUs
    (B, M), M = 3 with ``multimask_output`` else 1. Labels 1/0 are positive/negative points,
    2/3 the top-left/bottom-right corners of a box.
    """
    if coords.ndim != 3 or coords.shape[-1] != 2 or labels.shape != coords.shape[:2]:
        raise PromptDecodingError(
            f"prompts must be coords (B, N, 2) and labels (B, N), got {tuple(coords.shape)} and "
            f"{tuple(labels.shape)}"
        )
    image_embed = _image_embedding(model, features)
    device = image_embed.device
    points = (to_model_coords(model, coords.float(), features.orig_hw).to(device), labels.int().to(device))
    sparse, dense = model.sam_prompt_encoder(points=points, boxes=None, masks=None)
    high_res = [feat[:1] for feat in features.high_res_feats] if features.high_res_feats else None
    low_res, iou, _, _ = model.sam_mask_decoder(
        image_embeddings=image_embed,
        image_pe=model.sam_prompt_encoder.get_dense_pe(),
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
        multimask_output=multimask_output,
        repeat_image=coords.shape[0] > 1,
        high_res_features=high_res,
    )
    return low_res, iou


def upscale_logits(model, low_res: torch.Tensor, orig_hw: tuple[int, int]) -> torch.Tensor:
    """Low-resolution logits (B, M, h, w) -> logits at the frame's size (B, M, H, W)."""
    if low_res.shape[0] == 0:
        return low_res.new_zeros((0, low_res.shape[1], *orig_hw))
    return F.interpolate(low_res.float(), size=tuple(orig_hw), mode="bilinear", align_corners=False)


@torch.no_grad()
def masks_from_boxes(
    model, features: FeaturesLike, boxes, mask_threshold: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Prompt SAM 2 with xyxy pixel boxes: boolean masks (N, H, W) and predicted IoUs (N,)."""
    boxes = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    height, width = features.orig_hw
    if len(boxes) == 0:
        return torch.zeros((0, height, width), dtype=torch.bool), torch.zeros(0)
    coords = boxes.reshape(-1, 2, 2)
    labels = torch.tensor([[2, 3]], dtype=torch.int32).expand(len(boxes), 2)
    low_res, iou = decode_prompts(model, features, coords, labels, multimask_output=False)
    logits = upscale_logits(model, low_res, features.orig_hw)[:, 0]
    return (logits > mask_threshold).cpu(), iou[:, 0].float().cpu()
