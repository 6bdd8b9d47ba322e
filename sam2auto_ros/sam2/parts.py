"""SAM 2's neural network, cut into the four pieces that export as separate graphs.

The streaming engine sends every bit of network compute through one ``Sam2Parts`` object and
does everything else (memory selection, temporal encodings, object pointers, batching) itself.
``TorchSam2Parts`` runs the official ``sam2`` modules; the onnxruntime twin (``OnnxSam2Parts``)
implements the same protocol on exported graphs. Tensor layouts follow ``sam2``'s own, so the
torch implementation is a thin call into ``SAM2Base`` and parity with the reference is exact.
On a CPU (outside graph tracing) it computes a batch of objects one object at a time through
the same submodules, doing the work that depends on the frame alone once (see
``TorchSam2Parts._object_by_object``); exported graphs keep the plain batched computation.

The four methods, with ``B`` objects, image side ``S``, feature side ``f = S/16``, hidden width
``C`` (256) and memory width ``Cm`` (64):

- ``encode_image(pixels (1,3,S,S))`` -> ``(image_embed (1,C,f,f), image_pos (1,C,f,f),
  (feat_s0 (1,C/8,4f,4f), feat_s1 (1,C/4,2f,2f)))``; high-res maps already through
  ``conv_s0``/``conv_s1``.
- ``memory_attention(curr (f*f,B,C), curr_pos (f*f,B,C), memory (M,B,Cm), memory_pos (M,B,Cm),
  num_obj_ptr_tokens)`` -> conditioned features ``(B,C,f,f)``; the last ``num_obj_ptr_tokens``
  memory tokens are object pointers (no rotary encoding).
- ``sam_heads(image_embed (B,C,f,f), high_res_feats, point_coords (B,P,2) | None,
  point_labels (B,P) int32 | None, mask_input (B,1,4f,4f) | None, multimask_output)`` ->
  :class:`SamHeadsOutput` (prompt encoder + mask decoder + best-mask choice + object-score
  gating + object pointer projection). Point coordinates are in model pixels ``[0, S)``.
- ``encode_memory(pix_feat (B,C,f,f), mask_for_mem (B,1,S,S), object_score_logits (B,1))`` ->
  ``(maskmem_features (B,Cm,f,f), maskmem_pos (B,Cm,f,f))``; ``mask_for_mem`` is already
  sigmoid'ed (or binarised) and scaled, the no-object embedding is added inside.
"""

from __future__ import annotations

import types
import weakref
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from sam2.modeling.sam.transformer import RoPEAttention

from sam2auto_ros.sam2.features import Sam2Settings


@dataclass(frozen=True)
class SamHeadsOutput:
    """The SAM heads' answer for ``B`` prompts/objects on one frame."""

    low_res_masks: torch.Tensor  # (B, 1, 4f, 4f) mask logits of the chosen mask
    iou: torch.Tensor  # (B,) predicted IoU of the chosen mask
    obj_ptr: torch.Tensor  # (B, C) object pointer (occlusion-gated)
    object_score_logits: torch.Tensor  # (B, 1) > 0: object visible
    #: (B, 1, S, S) ``low_res_masks`` upsampled to the input size, where the backend has it anyway
    #: (the engine then skips its own upsampling); None: the engine upsamples
    high_res_masks: torch.Tensor | None = None


@dataclass(frozen=True)
class Sam2Constants:
    """Small learned tensors the engine's bookkeeping uses between the graphs.

    ``None`` where the model's configuration has no such tensor.
    """

    no_mem_embed: torch.Tensor  # (1, 1, C) added to the first conditioning frame's features
    no_mem_pos_enc: torch.Tensor  # (1, 1, C)
    maskmem_tpos_enc: torch.Tensor  # (num_maskmem, 1, 1, Cm) temporal encoding of memories
    no_obj_ptr: torch.Tensor | None  # (1, C) pointer mixed in when the object is absent
    obj_ptr_tpos_proj_weight: torch.Tensor | None  # (Cm, C) projection of pointer time encodings
    obj_ptr_tpos_proj_bias: torch.Tensor | None  # (Cm,)
    mask_downsample_weight: torch.Tensor | None  # (1, 1, 4, 4) mask prompt -> decoder mask input
    mask_downsample_bias: torch.Tensor | None  # (1,)


@runtime_checkable
class Sam2Parts(Protocol):
    """The four SAM 2 graphs plus the constants between them (see the module docstring)."""

    settings: Sam2Settings
    constants: Sam2Constants
    device: torch.device

    def encode_image(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]: ...

    def memory_attention(
        self,
        curr: torch.Tensor,
        curr_pos: torch.Tensor,
        memory: torch.Tensor,
        memory_pos: torch.Tensor,
        num_obj_ptr_tokens: int,
    ) -> torch.Tensor: ...

    def sam_heads(
        self,
        image_embed: torch.Tensor,
        high_res_feats: tuple[torch.Tensor, torch.Tensor],
        point_coords: torch.Tensor | None,
        point_labels: torch.Tensor | None,
        mask_input: torch.Tensor | None,
        multimask_output: bool,
    ) -> SamHeadsOutput: ...

    def encode_memory(
        self, pix_feat: torch.Tensor, mask_for_mem: torch.Tensor, object_score_logits: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]: ...


def _param(module: torch.nn.Module, name: str) -> torch.Tensor | None:
    value = getattr(module, name, None)
    return None if value is None else value.detach()


def _tracing() -> bool:
    """True while a graph is being traced or exported: graphs get the plain batched computation."""
    return torch.compiler.is_compiling() or torch.jit.is_tracing()


def _same_for_every_object(tensor: torch.Tensor, dim: int) -> bool:
    """Whether ``tensor`` is one object's rows expanded along ``dim`` (the engine's shared frame)."""
    return tensor.shape[dim] == 1 or tensor.stride(dim) == 0


#: per Hiera trunk: (what the embedding was computed for, the embedding); see _memoized_pos_embed
_POS_EMBED_KEPT: weakref.WeakKeyDictionary[torch.nn.Module, tuple[tuple[Any, ...], torch.Tensor]] = weakref.WeakKeyDictionary()


def _memoized_pos_embed(trunk: torch.nn.Module, hw: tuple[int, int]) -> torch.Tensor:
    """``Hiera._get_pos_embed`` computed once per feature size and weight version.

    Hiera resizes its learned position embedding (bicubic) on every image: about 3 % of the
    image encoder at 256 px, for a result that only changes with the weights or the size.
    Outside inference mode and while a graph is traced it is computed as usual.
    """
    compute = type(trunk)._get_pos_embed
    if _tracing() or not torch.is_inference_mode_enabled():
        return compute(trunk, hw)
    weights = (trunk.pos_embed, trunk.pos_embed_window)
    key = (tuple(hw), *((w.data_ptr(), w._version, w.dtype, w.device) for w in weights))
    kept = _POS_EMBED_KEPT.get(trunk)
    if kept is None or kept[0] != key:
        kept = (key, compute(trunk, hw))
        _POS_EMBED_KEPT[trunk] = kept
    return kept[1]


def _memoize_pos_embed(trunk: torch.nn.Module) -> None:
    """Route ``trunk``'s position embedding through :func:`_memoized_pos_embed` (a bound method,
    so a deep copy of the model binds to the copy)."""
    method = getattr(trunk, "_get_pos_embed", None)
    if method is None or not hasattr(trunk, "pos_embed") or not hasattr(trunk, "pos_embed_window"):
        return
    if getattr(method, "__func__", None) is not _memoized_pos_embed:
        trunk._get_pos_embed = types.MethodType(_memoized_pos_embed, trunk)


class TorchSam2Parts:
    """``Sam2Parts`` on a built ``sam2`` model (``SAM2Base`` or ``SAM2VideoPredictor``)."""

    def __init__(self, model: torch.nn.Module) -> None:
        if not getattr(model, "use_high_res_features_in_sam", False):
            raise ValueError("the engine expects a SAM 2 model with high-resolution decoder features (every released config has them)")
        self.model = model.eval()
        self.settings = Sam2Settings.from_model(model)
        self.device = next(model.parameters()).device
        _memoize_pos_embed(model.image_encoder.trunk)
        tpos_proj = model.obj_ptr_tpos_proj if isinstance(model.obj_ptr_tpos_proj, torch.nn.Linear) else None
        mask_down = getattr(model, "mask_downsample", None)
        self.constants = Sam2Constants(
            no_mem_embed=model.no_mem_embed.detach(),
            no_mem_pos_enc=model.no_mem_pos_enc.detach(),
            maskmem_tpos_enc=model.maskmem_tpos_enc.detach(),
            no_obj_ptr=_param(model, "no_obj_ptr"),
            obj_ptr_tpos_proj_weight=None if tpos_proj is None else tpos_proj.weight.detach(),
            obj_ptr_tpos_proj_bias=None if tpos_proj is None else tpos_proj.bias.detach(),
            mask_downsample_weight=None if mask_down is None else mask_down.weight.detach(),
            mask_downsample_bias=None if mask_down is None else mask_down.bias.detach(),
        )

    @torch.inference_mode()
    def encode_image(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        out = self.model.forward_image(pixels)
        fpn, pos = out["backbone_fpn"], out["vision_pos_enc"]
        return fpn[-1], pos[-1], (fpn[0], fpn[1])

    @torch.inference_mode()
    def memory_attention(
        self,
        curr: torch.Tensor,
        curr_pos: torch.Tensor,
        memory: torch.Tensor,
        memory_pos: torch.Tensor,
        num_obj_ptr_tokens: int,
    ) -> torch.Tensor:
        batch, channels = curr.shape[1], curr.shape[2]
        side = self.settings.feat_size
        if self._object_by_object(batch) and self.model.memory_attention.batch_first:
            out = self._attend_object_by_object(curr, curr_pos, memory, memory_pos, num_obj_ptr_tokens)
            return out.transpose(1, 2).reshape(batch, channels, side, side)
        out = self.model.memory_attention(
            curr=[curr], curr_pos=[curr_pos], memory=memory, memory_pos=memory_pos, num_obj_ptr_tokens=num_obj_ptr_tokens
        )
        return out.permute(1, 2, 0).view(batch, channels, side, side)

    def _object_by_object(self, batch: int) -> bool:
        """On a CPU a batch of objects is computed one object at a time.

        Four objects' memory tokens and MLP activations in one call outgrow the CPU caches:
        measured 20 % slower than four single calls at 512 px (equal at 256 px). Going object by
        object also lets what depends on the frame alone be computed once.
        """
        return batch > 1 and self.device.type == "cpu" and not _tracing()

    def _attend_object_by_object(
        self, curr: torch.Tensor, curr_pos: torch.Tensor, memory: torch.Tensor, memory_pos: torch.Tensor, num_obj_ptr_tokens: int
    ) -> torch.Tensor:
        """``MemoryAttention.forward`` per object, batch-first ``(B, f*f, C)`` out.

        The first layer's self-attention sees only the current frame, so when every object is on
        the same frame (``curr`` expanded) it runs once for all of them.
        """
        attention = self.model.memory_attention
        first = attention.layers[0]

        def rope_kwargs(layer: torch.nn.Module) -> dict[str, int]:
            return {"num_k_exclude_rope": num_obj_ptr_tokens} if isinstance(layer.cross_attn_image, RoPEAttention) else {}

        def self_attended(rows: slice) -> tuple[torch.Tensor, torch.Tensor]:
            x, pos = curr[:, rows], curr_pos[:, rows]
            if attention.pos_enc_at_input:
                x = x + 0.1 * pos
            x, pos = x.transpose(0, 1), pos.transpose(0, 1)
            return first._forward_sa(x, pos), pos

        shared = self_attended(slice(0, 1)) if _same_for_every_object(curr, 1) and _same_for_every_object(curr_pos, 1) else None
        out = []
        for i in range(curr.shape[1]):
            tgt, pos = shared if shared is not None else self_attended(slice(i, i + 1))
            mem, mem_pos = memory[:, i : i + 1].transpose(0, 1), memory_pos[:, i : i + 1].transpose(0, 1)
            # the rest of MemoryAttentionLayer.forward for the first layer: cross-attention, MLP
            tgt = first._forward_ca(tgt, mem, pos, mem_pos, **rope_kwargs(first))
            tgt = tgt + first.dropout3(first.linear2(first.dropout(first.activation(first.linear1(first.norm3(tgt))))))
            for layer in attention.layers[1:]:
                tgt = layer(tgt=tgt, memory=mem, pos=mem_pos, query_pos=pos, **rope_kwargs(layer))
            out.append(attention.norm(tgt))
        return torch.cat(out, dim=0)

    @torch.inference_mode()
    def sam_heads(
        self,
        image_embed: torch.Tensor,
        high_res_feats: tuple[torch.Tensor, torch.Tensor],
        point_coords: torch.Tensor | None,
        point_labels: torch.Tensor | None,
        mask_input: torch.Tensor | None,
        multimask_output: bool,
    ) -> SamHeadsOutput:
        points = None if point_coords is None else {"point_coords": point_coords, "point_labels": point_labels}
        _, _, ious, low_res_masks, high_res_masks, obj_ptr, object_score_logits = self.model._forward_sam_heads(
            backbone_features=image_embed,
            point_inputs=points,
            mask_inputs=mask_input,
            high_res_features=list(high_res_feats),
            multimask_output=multimask_output,
        )
        # the chosen mask is the one with the highest predicted IoU (or the only one)
        return SamHeadsOutput(low_res_masks, ious.max(dim=1).values, obj_ptr, object_score_logits, high_res_masks)

    @torch.inference_mode()
    def encode_memory(
        self, pix_feat: torch.Tensor, mask_for_mem: torch.Tensor, object_score_logits: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self._object_by_object(pix_feat.shape[0]):
            features, pos = self._encode_object_by_object(pix_feat, mask_for_mem)
        else:
            out = self.model.memory_encoder(pix_feat, mask_for_mem, skip_mask_sigmoid=True)
            features, pos = out["vision_features"], out["vision_pos_enc"][-1]
        no_obj = getattr(self.model, "no_obj_embed_spatial", None)
        if no_obj is not None:
            absent = (object_score_logits <= 0).to(features.dtype)
            features = features + absent[..., None, None] * no_obj[..., None, None]
        return features, pos

    def _encode_object_by_object(self, pix_feat: torch.Tensor, mask_for_mem: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``MemoryEncoder.forward`` (masks already sigmoid'ed) per object; the projection of a
        shared frame's features runs once, the position encoding is one object's, expanded."""
        encoder = self.model.memory_encoder
        shared = _same_for_every_object(pix_feat, 0)
        projected = encoder.pix_feat_proj(pix_feat[:1] if shared else pix_feat)
        rows = [projected[0:1] if shared else projected[i : i + 1] for i in range(pix_feat.shape[0])]
        masks = [encoder.mask_downsampler(mask_for_mem[i : i + 1]) for i in range(pix_feat.shape[0])]
        features = torch.cat([encoder.out_proj(encoder.fuser(row + mask)) for row, mask in zip(rows, masks)], dim=0)
        pos = encoder.position_encoding(features[:1]).to(features.dtype)
        return features, pos.expand(features.shape[0], -1, -1, -1)
