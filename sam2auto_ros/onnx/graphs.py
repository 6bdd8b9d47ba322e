"""The four SAM 2 graphs as exportable modules, cut exactly where ``Sam2Parts`` cuts the network.

Each module wraps ``TorchSam2Parts`` (the torch backend's own code) so that an exported graph
computes what the torch engine computes; only two things differ, both because a graph has no
Python control flow at run time:

- the SAM heads graph takes ``multimask_output`` and "is there a mask prompt" as boolean inputs
  and computes both branches, selecting with ``where``; "no points" is the padding point
  ``(0, 0)`` with label ``-1``, which is what ``sam2`` itself substitutes;
- the memory attention graph receives spatial memories and object-pointer tokens as separate
  inputs (the pointer count is then a shape, not a Python int), and is exported inside
  :func:`sam2auto_ros.onnx.rotary.real_rotary` (real-arithmetic rotation; attention with late
  value projection and static query chunks, :mod:`sam2auto_ros.onnx.attention`).

High-resolution decoder features enter the SAM heads graph with batch 1 (they are the same
image for every object) and are broadcast inside, so a frame's features are not copied per
object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from sam2.modeling.sam2_base import NO_OBJ_SCORE

from sam2auto_ros.sam2.parts import TorchSam2Parts

#: the graphs of one export, in the order they are written
GRAPH_NAMES = ("image_encoder", "memory_attention", "sam_heads", "memory_encoder")


class ImageEncoderGraph(torch.nn.Module):
    """``pixels (1,3,S,S)`` -> ``image_embed, image_pos, feat_s0, feat_s1``."""

    input_names = ("pixels",)
    output_names = ("image_embed", "image_pos", "feat_s0", "feat_s1")

    def __init__(self, parts: TorchSam2Parts) -> None:
        super().__init__()
        self.model = parts.model  # registered so the exporter sees the weights as parameters
        self.parts = parts

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, ...]:
        embed, pos, (feat_s0, feat_s1) = self.parts.encode_image.__wrapped__(self.parts, pixels)
        return embed, pos, feat_s0, feat_s1


class MemoryAttentionGraph(torch.nn.Module):
    """``curr, curr_pos (f*f,B,C), memory, memory_pos (k*f*f,B,Cm), obj_ptrs, obj_ptrs_pos (P,B,Cm)``
    -> ``pix_feat_with_mem (B,C,f,f)``."""

    input_names = ("curr", "curr_pos", "memory", "memory_pos", "obj_ptrs", "obj_ptrs_pos")
    output_names = ("pix_feat_with_mem",)

    def __init__(self, parts: TorchSam2Parts) -> None:
        super().__init__()
        self.model = parts.model
        self.parts = parts

    def forward(
        self,
        curr: torch.Tensor,
        curr_pos: torch.Tensor,
        memory: torch.Tensor,
        memory_pos: torch.Tensor,
        obj_ptrs: torch.Tensor,
        obj_ptrs_pos: torch.Tensor,
    ) -> torch.Tensor:
        return self.parts.memory_attention.__wrapped__(
            self.parts,
            curr,
            curr_pos,
            torch.cat((memory, obj_ptrs), dim=0),
            torch.cat((memory_pos, obj_ptrs_pos), dim=0),
            obj_ptrs.shape[0],
        )


class SamHeadsGraph(torch.nn.Module):
    """Prompt encoder + mask decoder + mask choice + object-score gating + object pointer.

    Inputs ``image_embed (B,C,f,f), feat_s0 (1,C/8,4f,4f), feat_s1 (1,C/4,2f,2f),
    point_coords (B,P,2), point_labels (B,P) int32, mask_input (B,1,4f,4f), has_mask (1,) bool,
    multimask (1,) bool``; outputs as :class:`~sam2auto_ros.sam2.parts.SamHeadsOutput`.
    """

    input_names = ("image_embed", "feat_s0", "feat_s1", "point_coords", "point_labels", "mask_input", "has_mask", "multimask")
    output_names = ("low_res_masks", "iou", "obj_ptr", "object_score_logits")

    def __init__(self, parts: TorchSam2Parts) -> None:
        super().__init__()
        self.model = parts.model

    def forward(
        self,
        image_embed: torch.Tensor,
        feat_s0: torch.Tensor,
        feat_s1: torch.Tensor,
        point_coords: torch.Tensor,
        point_labels: torch.Tensor,
        mask_input: torch.Tensor,
        has_mask: torch.Tensor,
        multimask: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:
        model = self.model
        encoder, decoder = model.sam_prompt_encoder, model.sam_mask_decoder
        batch = image_embed.shape[0]
        dtype = image_embed.dtype
        sparse, no_mask_dense = encoder(points=(point_coords, point_labels), boxes=None, masks=None)
        sparse = sparse.to(dtype)  # the point encoding runs in float32 (see half_precision_copy)
        dense = torch.where(has_mask.view(1, 1, 1, 1), encoder._embed_masks(mask_input), no_mask_dense)
        high_res = [feat_s0.expand(batch, -1, -1, -1), feat_s1.expand(batch, -1, -1, -1)]
        masks, ious, tokens, object_score_logits = decoder.predict_masks(
            image_embeddings=image_embed,
            image_pe=encoder.get_dense_pe().to(dtype),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            repeat_image=False,
            high_res_features=high_res,
        )
        rows = torch.arange(batch, device=masks.device)
        # multimask branch (MaskDecoder.forward + SAM2Base._forward_sam_heads): best of tokens 1..3
        best = torch.argmax(ious[:, 1:], dim=-1)
        multi_mask = masks[:, 1:][rows, best].unsqueeze(1)
        multi_iou = ious[:, 1:][rows, best]
        multi_token = tokens[:, 1:][rows, best] if decoder.use_multimask_token_for_obj_ptr else tokens[:, 0]
        # single-mask branch: token 0, or the stability fallback the video predictor enables
        if decoder.dynamic_multimask_via_stability:
            single_mask, single_iou = decoder._dynamic_multimask_via_stability(masks, ious)
        else:
            single_mask, single_iou = masks[:, 0:1], ious[:, 0:1]
        pick = multimask.view(1)
        low_res = torch.where(pick.view(1, 1, 1, 1), multi_mask, single_mask)
        iou = torch.where(pick, multi_iou, single_iou[:, 0])
        token = torch.where(pick.view(1, 1), multi_token, tokens[:, 0])
        obj_ptr = model.obj_ptr_proj(token)
        if model.pred_obj_scores:
            appearing = object_score_logits > 0
            low_res = torch.where(appearing[:, :, None, None], low_res, NO_OBJ_SCORE)
            weight = object_score_logits.sigmoid() if model.soft_no_obj_ptr else appearing.to(obj_ptr.dtype)
            if model.fixed_no_obj_ptr:
                obj_ptr = weight * obj_ptr
            obj_ptr = obj_ptr + (1 - weight) * model.no_obj_ptr
        return low_res.float(), iou, obj_ptr, object_score_logits


class MemoryEncoderGraph(torch.nn.Module):
    """``pix_feat (B,C,f,f), mask_for_mem (B,1,S,S), object_score_logits (B,1)`` ->
    ``maskmem_features, maskmem_pos (B,Cm,f,f)``."""

    input_names = ("pix_feat", "mask_for_mem", "object_score_logits")
    output_names = ("maskmem_features", "maskmem_pos")

    def __init__(self, parts: TorchSam2Parts) -> None:
        super().__init__()
        self.model = parts.model
        self.parts = parts

    def forward(self, pix_feat: torch.Tensor, mask_for_mem: torch.Tensor, object_score_logits: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.parts.encode_memory.__wrapped__(self.parts, pix_feat, mask_for_mem, object_score_logits)


@dataclass(frozen=True)
class GraphSpec:
    """How to trace one graph: the module, example inputs, and which axes stay dynamic."""

    name: str
    module: torch.nn.Module
    example_inputs: tuple[torch.Tensor, ...]
    dynamic_shapes: dict[str, dict[int, Any]] | None


def graph_specs(parts: TorchSam2Parts, example_batch: int = 2, example_memory_frames: int = 2, example_points: int = 3) -> list[GraphSpec]:
    """The four graphs of ``parts``'s model with example inputs at its image size.

    Example sizes must not be 0 or 1 on dynamic axes (the tracer would specialise them).
    """
    settings = parts.settings
    size, side, c, cm = settings.image_size, settings.feat_size, settings.hidden_dim, settings.mem_dim
    hw, b = side * side, example_batch
    gen = torch.Generator().manual_seed(0)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen)

    batch = torch.export.Dim("batch", min=1, max=1024)
    frames = torch.export.Dim("memory_frames", min=1, max=256)
    ptrs = torch.export.Dim("obj_ptr_tokens", min=1, max=4096)
    points = torch.export.Dim("points", min=1, max=1024)
    s0_ch, s1_ch = c // 8, c // 4
    return [
        GraphSpec("image_encoder", ImageEncoderGraph(parts), (rand(1, 3, size, size),), None),
        GraphSpec(
            "memory_attention",
            MemoryAttentionGraph(parts),
            (rand(hw, b, c), rand(hw, b, c), rand(example_memory_frames * hw, b, cm), rand(example_memory_frames * hw, b, cm), rand(4 * 2, b, cm), rand(4 * 2, b, cm)),
            {
                "curr": {1: batch},
                "curr_pos": {1: batch},
                "memory": {0: frames * hw, 1: batch},
                "memory_pos": {0: frames * hw, 1: batch},
                "obj_ptrs": {0: ptrs, 1: batch},
                "obj_ptrs_pos": {0: ptrs, 1: batch},
            },
        ),
        GraphSpec(
            "sam_heads",
            SamHeadsGraph(parts),
            (
                rand(b, c, side, side),
                rand(1, s0_ch, 4 * side, 4 * side),
                rand(1, s1_ch, 2 * side, 2 * side),
                torch.rand(b, example_points, 2, generator=gen) * size,
                torch.ones(b, example_points, dtype=torch.int32),
                rand(b, 1, 4 * side, 4 * side),
                torch.tensor([True]),
                torch.tensor([False]),
            ),
            {
                "image_embed": {0: batch},
                "feat_s0": None,
                "feat_s1": None,
                "point_coords": {0: batch, 1: points},
                "point_labels": {0: batch, 1: points},
                "mask_input": {0: batch},
                "has_mask": None,
                "multimask": None,
            },
        ),
        GraphSpec(
            "memory_encoder",
            MemoryEncoderGraph(parts),
            (rand(b, c, side, side), torch.rand(b, 1, size, size, generator=gen), rand(b, 1)),
            {"pix_feat": {0: batch}, "mask_for_mem": {0: batch}, "object_score_logits": {0: batch}},
        ),
    ]
