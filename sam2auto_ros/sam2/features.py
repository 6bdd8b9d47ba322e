"""What one encoded frame holds, and the settings that describe a SAM 2 model to the engine.

Both types are backend-neutral: the torch parts and the onnxruntime parts produce the same
tensors, so the engine, SMART-OD's mask generator and the tests never ask which backend ran.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch

#: ImageNet statistics SAM 2 normalises its input with (sam2.utils.misc.load_video_frames).
IMG_MEAN = (0.485, 0.456, 0.406)
IMG_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class FrameFeatures:
    """One frame through the image encoder, kept so a frame is encoded once.

    ``image_embed`` is the top-level feature map ``(1, C, h, w)`` exactly as the backbone gives
    it: SAM 2's ``no_mem_embed`` is NOT added (the image predictor adds it before decoding a
    frame without memory; the video path adds it only on a first conditioning frame).
    ``high_res_feats`` are the stride-4 and stride-8 maps already through the mask decoder's
    ``conv_s0`` / ``conv_s1`` (what ``SAM2Base.forward_image`` returns), ``(1, C/8, 4h, 4w)`` and
    ``(1, C/4, 2h, 2w)``. ``image_pos`` is the sine position encoding of the top level, which the
    memory attention needs. ``orig_hw`` is the source image's ``(height, width)``.
    """

    frame_index: int
    orig_hw: tuple[int, int]
    image_embed: torch.Tensor
    image_pos: torch.Tensor
    high_res_feats: tuple[torch.Tensor, torch.Tensor]

    @property
    def feat_hw(self) -> tuple[int, int]:
        return int(self.image_embed.shape[-2]), int(self.image_embed.shape[-1])

    def nbytes(self) -> int:
        tensors = (self.image_embed, self.image_pos, *self.high_res_feats)
        return sum(t.numel() * t.element_size() for t in tensors)


@dataclass(frozen=True)
class Sam2Settings:
    """The model's configuration flags that the engine's bookkeeping depends on.

    Read from a built ``SAM2Base`` (:meth:`from_model`) or from exported graph metadata
    (:meth:`from_dict`), so the bookkeeping is identical whichever backend computes.
    Names follow ``sam2.modeling.sam2_base.SAM2Base``'s constructor arguments.
    """

    image_size: int
    backbone_stride: int
    hidden_dim: int
    mem_dim: int
    num_maskmem: int
    max_obj_ptrs_in_encoder: int
    memory_temporal_stride_for_eval: int
    use_obj_ptrs_in_encoder: bool
    add_tpos_enc_to_obj_ptrs: bool
    proj_tpos_enc_in_obj_ptrs: bool
    use_signed_tpos_enc_to_obj_ptrs: bool
    only_obj_ptrs_in_the_past_for_eval: bool
    directly_add_no_mem_embed: bool
    use_mask_input_as_output_without_sam: bool
    multimask_output_in_sam: bool
    multimask_output_for_tracking: bool
    multimask_min_pt_num: int
    multimask_max_pt_num: int
    sigmoid_scale_for_mem_enc: float
    sigmoid_bias_for_mem_enc: float
    binarize_mask_from_pts_for_mem_enc: bool
    pred_obj_scores: bool
    fixed_no_obj_ptr: bool
    soft_no_obj_ptr: bool

    @classmethod
    def from_model(cls, model: Any) -> Sam2Settings:
        if getattr(model, "non_overlap_masks_for_mem_enc", False):
            raise ValueError("non_overlap_masks_for_mem_enc couples objects in memory; the streaming engine keeps them independent")
        values = {f.name: getattr(model, f.name) for f in fields(cls)}
        return cls(**values)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sam2Settings:
        names = {f.name for f in fields(cls)}
        missing = names - set(data)
        if missing:
            raise ValueError(f"SAM 2 settings lack {sorted(missing)}")
        return cls(**{k: data[k] for k in names})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def feat_size(self) -> int:
        """Side of the top-level feature map (image_size / 16)."""
        return self.image_size // self.backbone_stride

    @property
    def low_res_size(self) -> int:
        """Side of the decoder's mask logits (image_size / 4)."""
        return 4 * self.feat_size
