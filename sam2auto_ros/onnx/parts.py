"""``OnnxSam2Parts``: the ``Sam2Parts`` protocol on exported graphs run by onnxruntime.

The streaming engine hands it the same torch tensors it hands ``TorchSam2Parts`` and gets the
same tensors back (on the CPU), so the tracker above cannot tell which backend runs. Loading
checks, before any frame is processed, that all graphs and ``constants.npz`` exist, come from
one export, and match the configured model, image size, precision and checkpoint; a mismatch is
an :class:`OnnxModelError`, never a silently wrong mask.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from sam2auto_ros.onnx.graphs import GRAPH_NAMES
from sam2auto_ros.onnx.metadata import CONSTANTS_FILE, ExportInfo, OnnxModelError, load_constants
from sam2auto_ros.onnx.providers import DEFAULT_PROVIDERS, check_session, provider_options, resolve, session_options
from sam2auto_ros.sam2.parts import SamHeadsOutput

log = logging.getLogger(__name__)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float32).contiguous().numpy()


def _one_image(t: torch.Tensor) -> torch.Tensor | None:
    """``t[:1]`` when every batch row of ``t`` is the same image (the engine expands one frame's
    features over its objects), else ``None``."""
    if t.shape[0] == 1 or t.stride(0) == 0 or bool(torch.equal(t, t[:1].expand_as(t))):
        return t[:1]
    return None


class OnnxSam2Parts:
    """SAM 2's four graphs on onnxruntime; see :class:`sam2auto_ros.sam2.parts.Sam2Parts`."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        model: str | None = None,
        image_size: int | None = None,
        precision: str | None = None,
        checkpoint_sha256: str | None = None,
        providers: Sequence[str] = DEFAULT_PROVIDERS,
        strict_providers: bool = False,
        threads: int | None = None,
    ) -> None:
        """Load the export in ``directory``; the keyword expectations that are given must match it."""
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise OnnxModelError(f"no exported SAM 2 graphs at {self.directory}; create them with `sam2auto export --model NAME --image-size N --out {self.directory}`")
        constants_path = self.directory / CONSTANTS_FILE
        if not constants_path.is_file():
            raise OnnxModelError(f"{constants_path} is missing; the export in {self.directory} is incomplete, re-run `sam2auto export`")
        self.device = torch.device("cpu")
        self.constants, self.info = load_constants(constants_path, self.device)
        self._check_expected(model, image_size, precision, checkpoint_sha256)
        self.settings = self.info.settings
        self.providers = resolve(providers, strict_providers)
        self.active_providers: dict[str, str] = {}
        self._sessions = {name: self._open(name, threads, strict_providers) for name in GRAPH_NAMES}
        #: on a CPU, memory attention and the memory encoder run one object per call, like the
        #: torch backend: several objects' memory tokens in one call outgrow the CPU caches
        self.object_by_object = self.active_providers["memory_attention"] == "CPUExecutionProvider"

    # ----------------------------------------------------------------- loading
    def _check_expected(self, model: str | None, image_size: int | None, precision: str | None, sha256: str | None) -> None:
        expected = {"model": model, "image_size": image_size, "precision": precision, "checkpoint_sha256": sha256}
        for key, want in expected.items():
            got = getattr(self.info, key)
            if want is not None and got != want:
                raise OnnxModelError(
                    f"the graphs in {self.directory} are {self.info.describe()}, but {key}={want!r} is configured; "
                    f"export that configuration with `sam2auto export` or point the onnx directory elsewhere"
                )

    def _open(self, name: str, threads: int | None, strict: bool) -> ort.InferenceSession:
        path = self.directory / f"{name}.onnx"
        if not path.is_file():
            raise OnnxModelError(f"graph {path} is missing; re-run `sam2auto export` for {self.info.describe()}")
        try:
            options = session_options(self.info.precision, self.providers[0], threads)
            chosen = provider_options(self.providers, self.info.precision, str(self.directory / "trt_cache"))
            session = ort.InferenceSession(str(path), options, providers=chosen)
        except Exception as exc:  # onnxruntime raises its own exception types for corrupt files
            raise OnnxModelError(f"onnxruntime cannot load {path}: {str(exc).splitlines()[0]}; re-run `sam2auto export`") from exc
        info, graph = ExportInfo.from_props(dict(session.get_modelmeta().custom_metadata_map), str(path))
        if graph != name or info != self.info:
            raise OnnxModelError(
                f"{path} holds graph {graph!r} of {info.describe()}, but {self.directory} is an export of "
                f"{self.info.describe()}; do not mix files of different exports, re-run `sam2auto export`"
            )
        self.active_providers[name] = check_session(session, self.providers, name, strict)
        return session

    def _run(self, name: str, feeds: dict[str, np.ndarray]) -> list[torch.Tensor]:
        outputs = self._sessions[name].run(None, feeds)
        return [torch.from_numpy(o) for o in outputs]

    # ----------------------------------------------------------------- Sam2Parts
    def encode_image(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        embed, pos, feat_s0, feat_s1 = self._run("image_encoder", {"pixels": _np(pixels)})
        return embed, pos, (feat_s0, feat_s1)

    def memory_attention(
        self,
        curr: torch.Tensor,
        curr_pos: torch.Tensor,
        memory: torch.Tensor,
        memory_pos: torch.Tensor,
        num_obj_ptr_tokens: int,
    ) -> torch.Tensor:
        split = memory.shape[0] - num_obj_ptr_tokens
        feeds = {
            "curr": curr,
            "curr_pos": curr_pos,
            "memory": memory[:split],
            "memory_pos": memory_pos[:split],
            "obj_ptrs": memory[split:],
            "obj_ptrs_pos": memory_pos[split:],
        }
        rows = [slice(i, i + 1) for i in range(curr.shape[1])] if self.object_by_object else [slice(None)]
        outs = [self._run("memory_attention", {k: _np(v[:, r]) for k, v in feeds.items()})[0] for r in rows]
        return outs[0] if len(outs) == 1 else torch.cat(outs, dim=0)

    def sam_heads(
        self,
        image_embed: torch.Tensor,
        high_res_feats: tuple[torch.Tensor, torch.Tensor],
        point_coords: torch.Tensor | None,
        point_labels: torch.Tensor | None,
        mask_input: torch.Tensor | None,
        multimask_output: bool,
    ) -> SamHeadsOutput:
        batch, side = image_embed.shape[0], self.settings.low_res_size
        if point_coords is None:
            # what SAM2Base._forward_sam_heads substitutes for "no points"
            point_coords = torch.zeros(batch, 1, 2)
            point_labels = -torch.ones(batch, 1, dtype=torch.int32)
        assert point_labels is not None
        feeds = {
            "image_embed": _np(image_embed),
            "point_coords": _np(point_coords),
            "point_labels": point_labels.detach().to("cpu", torch.int32).contiguous().numpy(),
            "mask_input": np.zeros((batch, 1, side, side), np.float32) if mask_input is None else _np(mask_input),
            "has_mask": np.array([mask_input is not None]),
            "multimask": np.array([bool(multimask_output)]),
        }
        shared = [_one_image(h) for h in high_res_feats]
        if all(s is not None for s in shared):
            feeds["feat_s0"], feeds["feat_s1"] = (_np(s) for s in shared)  # type: ignore[arg-type]
            return SamHeadsOutput(*self._run("sam_heads", feeds))
        # objects on different frames: the graph broadcasts one image's features, so go row by row
        rows = []
        for i in range(batch):
            row = {k: (v[i : i + 1] if v.shape[0] == batch and k not in ("has_mask", "multimask") else v) for k, v in feeds.items()}
            row["feat_s0"], row["feat_s1"] = (_np(h[i : i + 1]) for h in high_res_feats)
            rows.append(self._run("sam_heads", row))
        return SamHeadsOutput(*(torch.cat(col, dim=0) for col in zip(*rows)))

    def encode_memory(
        self, pix_feat: torch.Tensor, mask_for_mem: torch.Tensor, object_score_logits: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        rows = [slice(i, i + 1) for i in range(pix_feat.shape[0])] if self.object_by_object else [slice(None)]
        outs = [
            self._run(
                "memory_encoder",
                {"pix_feat": _np(pix_feat[r]), "mask_for_mem": _np(mask_for_mem[r]), "object_score_logits": _np(object_score_logits[r])},
            )
            for r in rows
        ]
        if len(outs) == 1:
            return outs[0][0], outs[0][1]
        return torch.cat([o[0] for o in outs], dim=0), torch.cat([o[1] for o in outs], dim=0)
