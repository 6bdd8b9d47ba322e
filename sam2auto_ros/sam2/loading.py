"""Build a SAM 2 model from the ``sam2`` package's hydra configs and load a checkpoint strictly.

The model is built as ``SAM2VideoPredictor`` with the same post-processing overrides
``sam2.build_sam.build_sam2_video_predictor`` applies, so its flags are the video predictor's.
Checkpoints load with ``torch.load(weights_only=True)`` (no pickled code runs) and strict key
checking; every failure names the file and what to do.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import torch

from sam2auto_ros.sam2.registry import (
    CheckpointError,
    checkpoint_info,
    resolve_checkpoint,
)

_KEY_LIST_LIMIT = 8


def select_device(device: str | torch.device | None = "cpu") -> torch.device:
    """``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (CUDA when available)."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    chosen = torch.device(device)
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but this torch build ({torch.__version__}) sees no CUDA device; use device='cpu'")
    if chosen.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {device!r}; use 'cpu', 'cuda' or 'auto'")
    return chosen


def _overrides(image_size: int | None) -> list[str]:
    if image_size is None:
        return []
    if image_size <= 0 or image_size % 32:
        raise ValueError(f"image_size must be a positive multiple of 32, got {image_size}")
    return [f"++model.image_size={image_size}"]


def build_random_model(config: str, image_size: int | None = None, device: str | torch.device = "cpu") -> torch.nn.Module:
    """A ``SAM2VideoPredictor`` with freshly initialised (random) weights, in eval mode."""
    from sam2.build_sam import build_sam2_video_predictor

    return build_sam2_video_predictor(config, ckpt_path=None, device=str(select_device(device)), hydra_overrides_extra=_overrides(image_size))


def _describe_keys(keys: list[str]) -> str:
    shown = ", ".join(keys[:_KEY_LIST_LIMIT])
    more = len(keys) - _KEY_LIST_LIMIT
    return shown + (f" (+{more} more)" if more > 0 else "")


def load_state_dict_file(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The ``"model"`` state dict of a SAM 2 checkpoint file, read without executing pickled code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"SAM 2 checkpoint file {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # pickled Python objects: refused, and torch's advice to load them is not passed on
        found = re.search(r"unsupported (GLOBAL [\w.]+)", str(exc))
        raise CheckpointError(
            f"SAM 2 checkpoint {path} holds pickled Python objects{f' ({found.group(1)})' if found else ''}, which are "
            "never loaded (they could run code); released SAM 2 checkpoints hold tensors only: delete the file and "
            "fetch it again with `sam2auto models download <name>`"
        ) from None
    except Exception as exc:  # torch raises several types for truncated / foreign files
        raise CheckpointError(
            f"cannot read SAM 2 checkpoint {path}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
            "- the file is corrupt or not a SAM 2 checkpoint; delete it and fetch it again"
        ) from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("model"), dict):
        raise CheckpointError(f"{path} is not a SAM 2 checkpoint: expected a dict with a 'model' state dict")
    return payload["model"]


def load_checkpoint(model: torch.nn.Module, path: str | os.PathLike[str]) -> None:
    """Load ``path`` into ``model`` with strict key and shape checking."""
    state = load_state_dict_file(path)
    expected = set(model.state_dict())
    missing = sorted(expected - set(state))
    unexpected = sorted(set(state) - expected)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys: {_describe_keys(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_describe_keys(unexpected)}")
        raise CheckpointError(f"checkpoint {path} does not fit this SAM 2 config ({'; '.join(parts)}); check the model name / config")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {path} does not fit this SAM 2 config: {exc}") from exc


def build_model(
    name: str,
    checkpoint: str | os.PathLike[str] | None = None,
    configured_dir: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
    image_size: int | None = None,
    config: str | None = None,
) -> torch.nn.Module:
    """Build registry model ``name`` and load its checkpoint (resolved as in the registry).

    ``config`` overrides the registry's hydra config (e.g. for a fine-tuned checkpoint);
    ``image_size`` overrides the model's input side (small sizes for fast tests).
    """
    info = checkpoint_info(name)
    path = resolve_checkpoint(name, checkpoint, configured_dir)
    model = build_random_model(config or info.config, image_size=image_size, device="cpu")
    load_checkpoint(model, path)
    return model.to(select_device(device)).eval()


def save_random_checkpoint(path: str | os.PathLike[str], config: str, image_size: int | None = None, seed: int = 0) -> Path:
    """Write random weights for ``config`` in the released checkpoint format (``{"model": state_dict}``).

    Tests and benchmarks use this: random weights prove parity and exercise the real loading path.
    """
    torch.manual_seed(seed)
    model = build_random_model(config, image_size=image_size, device="cpu")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict()}, path)
    return path
