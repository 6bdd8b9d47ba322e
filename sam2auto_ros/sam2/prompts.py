"""Check a :class:`Prompt` against the frame and turn it into SAM 2 model inputs.

Every check runs before the engine touches its state, so a bad prompt raises one
``PropagationError`` naming the problem and leaves the engine as it was. The conversion
reproduces ``SAM2VideoPredictor.add_new_points_or_box`` / ``add_new_mask``: a box becomes two
points labelled 2 and 3 ahead of any clicks, coordinates are scaled to the model's square
input, a mask is resized with antialiasing and re-binarised at 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from sam2auto_ros.core.propagation import Prompt, PropagationError


@dataclass(frozen=True)
class PreparedPrompt:
    mask: torch.Tensor | None  # (1, 1, S, S) float 0/1
    point_coords: torch.Tensor | None  # (1, P, 2) float32, model pixels
    point_labels: torch.Tensor | None  # (1, P) int32: 1 fg, 0 bg, 2/3 box corners


def _finite_array(value: object, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise PropagationError(f"{what} must be numeric: {exc}") from None
    if not np.all(np.isfinite(arr)):
        raise PropagationError(f"{what} contains NaN or infinity: {arr.tolist()}")
    return arr


def _check_mask(mask: object, frame_hw: tuple[int, int]) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.shape != frame_hw:
        raise PropagationError(f"mask prompt has shape {arr.shape}, the frame is {frame_hw} (height, width)")
    if arr.dtype != np.bool_:
        values = _finite_array(arr, "mask prompt")
        if not np.all((values == 0) | (values == 1)):
            raise PropagationError("mask prompt must be boolean or 0/1")
        arr = values.astype(bool)
    if not arr.any():
        raise PropagationError("mask prompt is empty: an object needs at least one foreground pixel")
    return arr


def _check_box(box: object, frame_hw: tuple[int, int]) -> np.ndarray:
    arr = _finite_array(box, "box prompt").reshape(-1)
    if arr.shape != (4,):
        raise PropagationError(f"box prompt must be [x_min, y_min, x_max, y_max], got {arr.size} values")
    x0, y0, x1, y1 = arr
    if x1 <= x0 or y1 <= y0:
        raise PropagationError(f"box prompt {arr.tolist()} is empty (needs x_max > x_min and y_max > y_min)")
    h, w = frame_hw
    if x1 <= 0 or y1 <= 0 or x0 >= w or y0 >= h:
        raise PropagationError(f"box prompt {arr.tolist()} lies outside the {w}x{h} frame")
    return arr


def _check_points(points: object, labels: object, frame_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    pts = _finite_array(points, "point prompt")
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] == 0:
        raise PropagationError(f"points must be an (N, 2) array of (x, y) with N >= 1, got shape {pts.shape}")
    if labels is None:
        raise PropagationError("points need point_labels (1 foreground, 0 background)")
    lab = _finite_array(labels, "point_labels").reshape(-1)
    if lab.shape[0] != pts.shape[0] or not np.all((lab == 0) | (lab == 1)):
        raise PropagationError(f"point_labels must hold one 0/1 label per point ({pts.shape[0]} points), got {lab.tolist()}")
    h, w = frame_hw
    outside = (pts[:, 0] < 0) | (pts[:, 0] >= w) | (pts[:, 1] < 0) | (pts[:, 1] >= h)
    if outside.any():
        raise PropagationError(f"points {pts[outside].tolist()} lie outside the {w}x{h} frame")
    return pts, lab.astype(np.int32)


def prepare_prompt(prompt: object, frame_hw: tuple[int, int] | None, image_size: int, device: torch.device) -> PreparedPrompt:
    """Validated model inputs for ``prompt`` on a frame of ``frame_hw``."""
    if not isinstance(prompt, Prompt):
        raise PropagationError(f"prompt must be a sam2auto_ros.core.propagation.Prompt, got {type(prompt).__name__}")
    if frame_hw is None:
        raise PropagationError("no frame yet: call step(image) first")
    has_points = prompt.points is not None or prompt.point_labels is not None
    if prompt.mask is not None:
        if prompt.box is not None or has_points:
            raise PropagationError("give a mask prompt alone, or a box and/or points; not both")
        mask = torch.from_numpy(_check_mask(prompt.mask, frame_hw))[None, None].float().to(device)
        if mask.shape[-2:] != (image_size, image_size):
            mask = F.interpolate(mask, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True)
            mask = (mask >= 0.5).float()
        return PreparedPrompt(mask, None, None)
    if prompt.box is None and not has_points:
        raise PropagationError("empty prompt: give a mask, a box, or points")
    coords = np.zeros((0, 2))
    labels = np.zeros((0,), dtype=np.int32)
    if has_points:
        coords, labels = _check_points(prompt.points, prompt.point_labels, frame_hw)
    if prompt.box is not None:
        coords = np.concatenate([_check_box(prompt.box, frame_hw).reshape(2, 2), coords])
        labels = np.concatenate([np.array([2, 3], dtype=np.int32), labels])
    h, w = frame_hw
    point_coords = torch.tensor(coords, dtype=torch.float32)[None] / torch.tensor([w, h]) * image_size
    point_labels = torch.tensor(labels, dtype=torch.int32)[None]
    return PreparedPrompt(None, point_coords.to(device), point_labels.to(device))
