"""The SAM 2 streaming engine: SAM 2's video tracking, one frame at a time, with bounded memory.

It computes what ``SAM2VideoPredictor`` computes for each object (each object keeps its own
memory, as in sam2 1.1.0), but frames arrive one by one, objects come and go at any time, and
every object is tracked in one batch per frame on one shared image encoding. Memory-attention
calls batch all objects whose memory has the same length (after an object's first
``num_maskmem`` frames that is all objects with the same number of conditioning frames). How a
batch is computed is the parts' business (``TorchSam2Parts`` on a CPU goes object by object
inside a call, sharing what depends on the frame only).

Semantics the offline predictor does not have, chosen for a live stream:

- A prompt on frame ``t`` (new object, or re-conditioning an existing one) makes ``t`` a
  conditioning frame (``add_all_frames_to_correct_as_cond=True`` in SAM 2 terms) and
  supersedes whatever the object held from ``t`` on; if ``t`` is older than the newest frame
  (a late detection), the object is re-tracked from ``t + 1`` to the newest frame from the ring
  of recent frame features. An object with memory before ``t`` is prompted with that memory
  and its previous mask logits on ``t`` (SAM 2's correction path); otherwise ``t`` is its
  initial conditioning frame.
- The number of object pointers is ``max_obj_ptrs_in_encoder`` (the offline predictor uses
  ``min(num_frames, max_obj_ptrs_in_encoder)``; equal for videos of >= 16 frames).
- SAM 2's optional hole filling (a CUDA extension, ``fill_hole_area``) is not applied.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from sam2auto_ros.core.predicted_masks import LowResLogits
from sam2auto_ros.core.propagation import ObjectPrediction, Prompt, PropagationError
from sam2auto_ros.core.rgb import check_rgb
from sam2auto_ros.sam2.features import FrameFeatures
from sam2auto_ros.sam2.image import encode_frame
from sam2auto_ros.sam2.memory import FrameMemory, MemoryBank, MemoryTokens
from sam2auto_ros.sam2.parts import Sam2Parts, SamHeadsOutput, TorchSam2Parts
from sam2auto_ros.sam2.prompts import PreparedPrompt, prepare_prompt

#: logit SAM 2 clamps previous mask logits to before feeding them back with a correction
_PREV_LOGIT_CLAMP = 32.0


class Sam2StreamEngine:
    """``Propagator`` on SAM 2: see the module docstring for what it computes."""

    def __init__(self, parts: Sam2Parts, max_cond_frames: int = 4, ring_frames: int = 8, name: str = "sam2-torch") -> None:
        if ring_frames < 1:
            raise ValueError("ring_frames must be >= 1")
        self.parts = parts
        self.settings = parts.settings
        self.name = name
        self.max_cond_frames = max_cond_frames
        self.ring_frames = ring_frames
        s = self.settings
        # ordinary memories kept per object: the ring a late prompt may rewind into, plus what
        # SAM 2 reads behind the oldest ring frame (recent memories and object pointers)
        self.keep_frames = ring_frames + (s.num_maskmem + 1) * s.memory_temporal_stride_for_eval + s.max_obj_ptrs_in_encoder
        self._maskmem_pos: torch.Tensor | None = None
        self.reset()

    @classmethod
    def from_checkpoint(
        cls,
        model_name: str,
        checkpoint: str | os.PathLike[str] | None = None,
        models_dir: str | os.PathLike[str] | None = None,
        device: str = "cpu",
        image_size: int | None = None,
        **kwargs: object,
    ) -> Sam2StreamEngine:
        """Torch engine for registry model ``model_name`` (checkpoint resolved as in the registry)."""
        from sam2auto_ros.sam2.loading import build_model

        model = build_model(model_name, checkpoint, models_dir, device=device, image_size=image_size)
        return cls(TorchSam2Parts(model), **kwargs)  # type: ignore[arg-type]

    # ----------------------------------------------------------------- Propagator interface
    def reset(self) -> None:
        self._ring: OrderedDict[int, FrameFeatures] = OrderedDict()
        self._banks: dict[int, MemoryBank] = {}
        self._frame_index = -1
        self._frame_hw: tuple[int, int] | None = None

    @property
    def object_ids(self) -> list[int]:
        return list(self._banks)

    @property
    def frame_index(self) -> int:
        return self._frame_index

    @property
    def oldest_promptable_frame(self) -> int:
        return next(iter(self._ring)) if self._ring else 0

    def step(self, image: np.ndarray) -> dict[int, ObjectPrediction]:
        """Encode the next frame and track every object onto it (one batch)."""
        image = check_rgb(image, PropagationError)
        if self._frame_hw is not None and tuple(image.shape[:2]) != self._frame_hw:
            raise PropagationError(f"frame size changed from {self._frame_hw} to {tuple(image.shape[:2])}; call reset() to start a new sequence")
        feats = encode_frame(self.parts, image, self._frame_index + 1)
        self._frame_index += 1
        self._frame_hw = feats.orig_hw
        self._ring[feats.frame_index] = feats
        while len(self._ring) > self.ring_frames:
            self._ring.popitem(last=False)
        ids = self.object_ids
        memories = self._track([self._banks[i] for i in ids], feats) if ids else []
        for obj_id, memory in zip(ids, memories):
            self._banks[obj_id].add(feats.frame_index, memory, is_cond=False)
        self._prune()
        return dict(zip(ids, self._predictions(ids, memories, feats)))

    def add_object(self, obj_id: int, prompt: Prompt, frame_index: int | None = None) -> ObjectPrediction:
        """Add or re-condition ``obj_id`` on ``frame_index`` (default newest); returns its newest-frame prediction."""
        obj_id = _check_obj_id(obj_id)
        if self._frame_index < 0:
            raise PropagationError("no frame yet: call step(image) before add_object")
        if frame_index is not None and (isinstance(frame_index, bool) or not isinstance(frame_index, (int, np.integer))):
            raise PropagationError(f"frame_index must be an int or None, got {frame_index!r}")
        t = self._frame_index if frame_index is None else int(frame_index)
        if t not in self._ring:
            raise PropagationError(
                f"frame {t} is not promptable: the engine keeps frames {self.oldest_promptable_frame}..{self._frame_index} "
                f"(ring_frames={self.ring_frames}); raise ring_frames or prompt a newer frame"
            )
        prepared = prepare_prompt(prompt, self._frame_hw, self.settings.image_size, self.parts.device)
        bank = self._banks.get(obj_id)
        previous = bank.get(t) if bank is not None else None
        bank = MemoryBank(self.max_cond_frames) if bank is None else bank
        trial = MemoryBank(self.max_cond_frames)  # build the new state aside: a failure leaves the old one
        trial.cond = {k: v for k, v in bank.cond.items() if k < t}
        trial.non_cond = {k: v for k, v in bank.non_cond.items() if k < t}
        prev_logits = previous.low_res_masks if previous is not None and not trial.empty else None
        memory = self._prompt(trial, self._ring[t], prepared, prev_logits)
        trial.add(t, memory, is_cond=True)
        for later in range(t + 1, self._frame_index + 1):
            trial.add(later, self._track([trial], self._ring[later])[0], is_cond=False)
        self._banks[obj_id] = trial
        self._prune()
        newest = trial.get(self._frame_index)
        assert newest is not None
        return self._predictions([obj_id], [newest], self._ring[self._frame_index])[0]

    def remove_object(self, obj_id: int) -> None:
        if obj_id not in self._banks:
            raise PropagationError(f"unknown object id {obj_id!r}; tracked ids: {self.object_ids}")
        del self._banks[obj_id]

    # ----------------------------------------------------------------- frames for other users
    def frame_features(self, frame_index: int | None = None) -> FrameFeatures:
        """The encoded features of a recent frame (default newest), so a frame is encoded once."""
        t = self._frame_index if frame_index is None else frame_index
        if t not in self._ring:
            raise PropagationError(f"frame {t} is not in the feature ring ({self.oldest_promptable_frame}..{self._frame_index})")
        return self._ring[t]

    def memory_stats(self) -> dict[str, int]:
        """Sizes of what the engine holds (for tests and monitoring): frames, memories, tensor bytes."""
        banks = list(self._banks.values())
        mems = [m for b in banks for m in (*b.cond.values(), *b.non_cond.values())]
        tensors = [t for m in mems for t in (m.maskmem, m.obj_ptr, m.low_res_masks) if t is not None]
        return {
            "ring_frames": len(self._ring),
            "ring_bytes": sum(f.nbytes() for f in self._ring.values()),
            "objects": len(banks),
            "cond_memories": sum(len(b.cond) for b in banks),
            "memories": len(mems),
            "max_memories_per_object": max((len(b) for b in banks), default=0),
            "memory_bytes": sum(t.numel() * t.element_size() for t in tensors),
        }

    # ----------------------------------------------------------------- computation
    def _pos(self) -> torch.Tensor:
        assert self._maskmem_pos is not None
        return self._maskmem_pos

    def _curr(self, feats: FrameFeatures) -> tuple[torch.Tensor, torch.Tensor]:
        return feats.image_embed.flatten(2).permute(2, 0, 1), feats.image_pos.flatten(2).permute(2, 0, 1)

    def _conditioned(self, tokens: list[MemoryTokens], feats: FrameFeatures) -> torch.Tensor:
        """Memory-conditioned features ``(B, C, f, f)``; objects with equal memory layout share a call."""
        curr, curr_pos = self._curr(feats)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, tok in enumerate(tokens):
            groups.setdefault(tok.layout, []).append(i)
        out: list[torch.Tensor | None] = [None] * len(tokens)
        for (_, n_ptr), members in groups.items():
            b = len(members)
            cond = self.parts.memory_attention(
                curr.expand(-1, b, -1),
                curr_pos.expand(-1, b, -1),
                _cat([tokens[i].memory for i in members], dim=1),
                _cat([tokens[i].memory_pos for i in members], dim=1),
                n_ptr,
            )
            for j, i in enumerate(members):
                out[i] = cond[j : j + 1]
        return _cat(out, dim=0)  # type: ignore[arg-type]

    def _without_memory(self, feats: FrameFeatures) -> torch.Tensor:
        """Features of an initial conditioning frame (SAM 2's no-memory path)."""
        s, c = self.settings, self.parts.constants
        if s.directly_add_no_mem_embed:
            curr, _ = self._curr(feats)
            side = s.feat_size
            return (curr + c.no_mem_embed).permute(1, 2, 0).view(1, s.hidden_dim, side, side)
        curr, curr_pos = self._curr(feats)
        memory = c.no_mem_embed.expand(1, 1, s.mem_dim)
        memory_pos = c.no_mem_pos_enc.expand(1, 1, s.mem_dim)
        return self.parts.memory_attention(curr, curr_pos, memory, memory_pos, 0)

    def _multimask(self, is_init: bool, num_points: int) -> bool:
        s = self.settings
        return s.multimask_output_in_sam and (is_init or s.multimask_output_for_tracking) and s.multimask_min_pt_num <= num_points <= s.multimask_max_pt_num

    def _high_res(self, feats: FrameFeatures, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        return tuple(h.expand(batch, -1, -1, -1) for h in feats.high_res_feats)  # type: ignore[return-value]

    def _encode_memory(
        self, feats: FrameFeatures, low_res: torch.Tensor, scores: torch.Tensor, binarize: bool, high_res: torch.Tensor | None = None
    ) -> torch.Tensor:
        """bfloat16 memories of ``B`` objects' masks on this frame (SAM2Base._encode_new_memory).

        ``high_res`` is ``low_res`` upsampled to the model's input size when the SAM heads
        already computed it (the tracking path, as in SAM 2); otherwise it is upsampled here.
        """
        s = self.settings
        if high_res is None:
            high_res = F.interpolate(low_res, size=(s.image_size, s.image_size), mode="bilinear", align_corners=False)
        mask = (high_res > 0).float() if binarize else torch.sigmoid(high_res)
        if s.sigmoid_scale_for_mem_enc != 1.0:
            mask = mask * s.sigmoid_scale_for_mem_enc
        if s.sigmoid_bias_for_mem_enc != 0.0:
            mask = mask + s.sigmoid_bias_for_mem_enc
        maskmem, pos = self.parts.encode_memory(feats.image_embed.expand(low_res.shape[0], -1, -1, -1), mask, scores)
        if self._maskmem_pos is None:
            self._maskmem_pos = pos[0:1].flatten(2).permute(2, 0, 1).clone()
        return maskmem.to(torch.bfloat16)

    def _track(self, banks: Sequence[MemoryBank], feats: FrameFeatures) -> list[FrameMemory]:
        """Track ``banks``' objects onto ``feats`` (no prompt), batched; returns their new memories."""
        t = feats.frame_index
        tokens = [bank.assemble(t, self.settings, self.parts.constants, self._pos()) for bank in banks]
        pix = self._conditioned(tokens, feats)
        b = len(banks)
        heads = self.parts.sam_heads(pix, self._high_res(feats, b), None, None, None, self._multimask(False, 0))
        maskmem = self._encode_memory(feats, heads.low_res_masks, heads.object_score_logits, binarize=False, high_res=heads.high_res_masks)
        return _split(heads, maskmem)

    def _prompt(self, bank: MemoryBank, feats: FrameFeatures, prompt: PreparedPrompt, prev_logits: torch.Tensor | None) -> FrameMemory:
        """One object's output on a prompted frame (SAM2Base._track_step with inputs)."""
        s, c = self.settings, self.parts.constants
        is_init = bank.empty
        if prompt.mask is not None and s.use_mask_input_as_output_without_sam:
            heads = self._mask_as_output(feats, prompt.mask)
        else:
            if is_init:
                pix = self._without_memory(feats)
            else:
                pix = self._conditioned([bank.assemble(feats.frame_index, s, c, self._pos())], feats)
            mask_input = None
            if prompt.mask is not None:
                mask_input = F.interpolate(prompt.mask, size=(s.low_res_size,) * 2, mode="bilinear", align_corners=False, antialias=True)
            elif prev_logits is not None:
                mask_input = prev_logits.clamp(-_PREV_LOGIT_CLAMP, _PREV_LOGIT_CLAMP)
            n_points = 0 if prompt.point_labels is None else int(prompt.point_labels.shape[1])
            heads = self.parts.sam_heads(pix, self._high_res(feats, 1), prompt.point_coords, prompt.point_labels, mask_input, self._multimask(is_init, n_points))
        binarize = s.binarize_mask_from_pts_for_mem_enc  # SAM 2 encodes every prompted frame as "from points"
        maskmem = self._encode_memory(feats, heads.low_res_masks, heads.object_score_logits, binarize=binarize)
        return _split(heads, maskmem)[0]

    def _mask_as_output(self, feats: FrameFeatures, mask: torch.Tensor) -> SamHeadsOutput:
        """A mask prompt taken as the output (SAM2Base._use_mask_as_output)."""
        s, c = self.settings, self.parts.constants
        out_scale, out_bias = 20.0, -10.0
        high_res = mask * out_scale + out_bias
        low_res = F.interpolate(high_res, size=(high_res.shape[-2] // 4, high_res.shape[-1] // 4), mode="bilinear", align_corners=False, antialias=True)
        present = mask.flatten(1).gt(0).any(dim=1, keepdim=True).float()  # (1, 1)
        if s.use_obj_ptrs_in_encoder:
            assert c.mask_downsample_weight is not None
            mask_input = F.conv2d(mask, c.mask_downsample_weight, c.mask_downsample_bias, stride=4)
            obj_ptr = self.parts.sam_heads(feats.image_embed, feats.high_res_feats, None, None, mask_input, False).obj_ptr
        else:
            obj_ptr = mask.new_zeros(1, s.hidden_dim)
        if s.pred_obj_scores:
            assert c.no_obj_ptr is not None
            if s.fixed_no_obj_ptr:
                obj_ptr = present * obj_ptr
            obj_ptr = obj_ptr + (1 - present) * c.no_obj_ptr
        return SamHeadsOutput(low_res, mask.new_ones(1), obj_ptr, out_scale * present + out_bias)

    # ----------------------------------------------------------------- bookkeeping
    def _prune(self) -> None:
        keep_from = self._frame_index - self.keep_frames + 1
        masks_from = self.oldest_promptable_frame
        for bank in self._banks.values():
            bank.prune(keep_from, masks_from)

    def _predictions(self, ids: list[int], memories: list[FrameMemory], feats: FrameFeatures) -> list[ObjectPrediction]:
        """Each object's low-resolution logits as they are, on the model's device: FLASH makes them
        full-resolution only where it reads them (``core.predicted_masks``). The object scores move
        to the host in one transfer."""
        if not ids:
            return []
        scores = torch.cat([m.object_score.reshape(-1)[:1] for m in memories]).float().cpu().tolist()
        return [
            ObjectPrediction(
                obj_id=i,
                frame_index=feats.frame_index,
                predicted=LowResLogits(m.low_res_masks[0, 0], feats.orig_hw),  # type: ignore[index]
                object_score=score,
                iou=m.iou,
            )
            for i, m, score in zip(ids, memories, scores)
        ]


def _split(heads: SamHeadsOutput, maskmem: torch.Tensor) -> list[FrameMemory]:
    ious = heads.iou.float().cpu().tolist()
    return [
        FrameMemory(
            maskmem=maskmem[k : k + 1],
            obj_ptr=heads.obj_ptr[k : k + 1],
            object_score=heads.object_score_logits[k : k + 1],
            iou=float(ious[k]) if math.isfinite(ious[k]) else 0.0,
            low_res_masks=heads.low_res_masks[k : k + 1],
        )
        for k in range(maskmem.shape[0])
    ]


def _cat(tensors: Sequence[torch.Tensor], dim: int) -> torch.Tensor:
    """``torch.cat`` that hands a single tensor back uncopied."""
    return tensors[0] if len(tensors) == 1 else torch.cat(list(tensors), dim=dim)


def _check_obj_id(obj_id: object) -> int:
    if isinstance(obj_id, bool) or not isinstance(obj_id, (int, np.integer)):
        raise PropagationError(f"object id must be an int, got {obj_id!r}")
    return int(obj_id)
