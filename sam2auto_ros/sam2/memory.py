"""One object's SAM 2 memory bank, bounded, and the memory tokens it contributes on a frame.

``assemble`` reproduces ``SAM2Base._prepare_memory_conditioned_features`` token for token
(same frames, same order, same temporal encodings), reading from a bank that only ever holds:

- the conditioning frames (prompted frames): at most ``max_cond_frames``, kept as the first
  one (the object's anchor) plus the most recent others. A conditioning frame pushed out of
  that set is demoted to an ordinary memory, which is how SAM 2 itself treats conditioning
  frames beyond ``max_cond_frames_in_attn``;
- ordinary (tracked) memories of the last ``keep_frames`` frames: enough for the
  ``num_maskmem - 1`` recent memories and ``max_obj_ptrs_in_encoder - 1`` object pointers SAM 2
  reads, plus the ring of recent frames a late prompt may rewind to.

So a bank's size is fixed however long the stream runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from sam2.modeling.sam2_utils import get_1d_sine_pe

from sam2auto_ros.sam2.features import Sam2Settings
from sam2auto_ros.sam2.parts import Sam2Constants


@dataclass
class FrameMemory:
    """An object's output on one frame, as much of it as later frames need."""

    maskmem: torch.Tensor  # (1, Cm, f, f) bfloat16, as SAM2VideoPredictor stores it
    obj_ptr: torch.Tensor  # (1, C)
    object_score: torch.Tensor  # (1, 1) logit
    iou: float
    low_res_masks: torch.Tensor | None  # (1, 1, 4f, 4f) logits; dropped once the frame leaves the ring


@dataclass(frozen=True)
class MemoryTokens:
    """What one object brings to the memory attention on one frame."""

    memory: torch.Tensor  # (M, 1, Cm)
    memory_pos: torch.Tensor  # (M, 1, Cm)
    num_obj_ptr_tokens: int

    @property
    def layout(self) -> tuple[int, int]:
        """Objects with equal layouts batch through one memory-attention call."""
        return int(self.memory.shape[0]), self.num_obj_ptr_tokens


class MemoryBank:
    """Conditioning and recent memories of one object, keyed by stream frame index."""

    def __init__(self, max_cond_frames: int) -> None:
        if max_cond_frames < 1:
            raise ValueError("max_cond_frames must be >= 1")
        self.max_cond_frames = max_cond_frames
        self.cond: dict[int, FrameMemory] = {}
        self.non_cond: dict[int, FrameMemory] = {}

    def __len__(self) -> int:
        return len(self.cond) + len(self.non_cond)

    @property
    def empty(self) -> bool:
        return not self.cond and not self.non_cond

    def get(self, frame: int) -> FrameMemory | None:
        return self.cond.get(frame, self.non_cond.get(frame))

    def add(self, frame: int, memory: FrameMemory, is_cond: bool) -> None:
        self.non_cond.pop(frame, None)
        self.cond.pop(frame, None)
        if not is_cond:
            self.non_cond[frame] = memory
            return
        self.cond[frame] = memory
        self.cond = dict(sorted(self.cond.items()))
        while len(self.cond) > self.max_cond_frames:
            # keep the anchor (first) and the most recent ones; the second-oldest becomes ordinary
            demoted = list(self.cond)[1 if self.max_cond_frames > 1 else 0]
            self.non_cond[demoted] = self.cond.pop(demoted)

    def prune(self, keep_from: int, masks_from: int) -> None:
        """Drop ordinary memories before ``keep_from`` and mask logits before ``masks_from``."""
        self.non_cond = {t: m for t, m in self.non_cond.items() if t >= keep_from}
        for t, m in (*self.cond.items(), *self.non_cond.items()):
            if t < masks_from:
                m.low_res_masks = None

    def assemble(self, frame: int, settings: Sam2Settings, constants: Sam2Constants, maskmem_pos: torch.Tensor) -> MemoryTokens:
        """Memory tokens for tracking ``frame`` (SAM 2's memory selection, causal stream)."""
        s = settings
        num_mem = s.num_maskmem
        stride = s.memory_temporal_stride_for_eval
        picked: list[tuple[int, FrameMemory | None]] = [(0, m) for m in self.cond.values()]
        for t_pos in range(1, num_mem):
            t_rel = num_mem - t_pos
            prev = frame - 1 if t_rel == 1 else ((frame - 2) // stride) * stride - (t_rel - 2) * stride
            picked.append((t_pos, self.non_cond.get(prev)))
        tokens: list[torch.Tensor] = []
        pos: list[torch.Tensor] = []
        for t_pos, mem in picked:
            if mem is None:
                continue
            tokens.append(mem.maskmem.to(maskmem_pos.dtype).flatten(2).permute(2, 0, 1))
            pos.append(maskmem_pos + constants.maskmem_tpos_enc[num_mem - t_pos - 1])

        num_ptr_tokens = 0
        if s.use_obj_ptrs_in_encoder:
            max_ptrs = s.max_obj_ptrs_in_encoder
            ptr_cond = {t: m for t, m in self.cond.items() if t <= frame} if s.only_obj_ptrs_in_the_past_for_eval else self.cond
            pos_and_ptrs = [((frame - t) if s.use_signed_tpos_enc_to_obj_ptrs else abs(frame - t), m.obj_ptr) for t, m in ptr_cond.items()]
            for t_diff in range(1, max_ptrs):
                t = frame - t_diff
                if t < 0:
                    break
                mem = self.non_cond.get(t)
                if mem is not None:
                    pos_and_ptrs.append((t_diff, mem.obj_ptr))
            if pos_and_ptrs:
                tokens_ptr, pos_ptr = _pointer_tokens(pos_and_ptrs, settings, constants)
                tokens.append(tokens_ptr)
                pos.append(pos_ptr)
                num_ptr_tokens = int(tokens_ptr.shape[0])
        return MemoryTokens(torch.cat(tokens, dim=0), torch.cat(pos, dim=0), num_ptr_tokens)


def _pointer_tokens(
    pos_and_ptrs: list[tuple[int, torch.Tensor]], settings: Sam2Settings, constants: Sam2Constants
) -> tuple[torch.Tensor, torch.Tensor]:
    """Object pointers as memory tokens with their temporal encodings (SAM 2's layout)."""
    c, cm = settings.hidden_dim, settings.mem_dim
    pos_list, ptr_list = zip(*pos_and_ptrs)
    ptrs = torch.stack(ptr_list, dim=0)  # (P, 1, C)
    if settings.add_tpos_enc_to_obj_ptrs:
        t_diff_max = settings.max_obj_ptrs_in_encoder - 1
        tpos_dim = c if settings.proj_tpos_enc_in_obj_ptrs else cm
        rel = torch.tensor(pos_list, device=ptrs.device) / t_diff_max
        ptr_pos = get_1d_sine_pe(rel, dim=tpos_dim)
        if constants.obj_ptr_tpos_proj_weight is not None:
            ptr_pos = F.linear(ptr_pos, constants.obj_ptr_tpos_proj_weight, constants.obj_ptr_tpos_proj_bias)
        ptr_pos = ptr_pos.unsqueeze(1).expand(-1, 1, cm)
    else:
        ptr_pos = ptrs.new_zeros(len(pos_list), 1, cm)
    if cm < c:
        # a C-wide pointer becomes C/Cm tokens of width Cm
        ptrs = ptrs.reshape(-1, 1, c // cm, cm).permute(0, 2, 1, 3).flatten(0, 1)
        ptr_pos = ptr_pos.repeat_interleave(c // cm, dim=0)
    return ptrs, ptr_pos
