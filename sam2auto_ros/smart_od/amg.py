"""Automatic mask generation on the SAM 2 image path, without torchvision.

A grid of single-point prompts is decoded in batches on the frame's precomputed features;
masks are kept when the model's predicted IoU and their stability score pass, then box NMS
removes duplicates (SAM 2's automatic mask generator, re-written on our prompt decoding so the
frame is encoded once and no torchvision op is needed). Optional crop layers re-run the grid on
overlapping crops; each crop needs its own encoding, so they require an ``encoder``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from pycocotools import mask as mask_utils

from sam2auto_ros.core.instance import Instance, InstanceStatus
from sam2auto_ros.core.masks import RleMask
from sam2auto_ros.smart_od.boxes import box_areas, nms
from sam2auto_ros.smart_od.config import AmgConfig
from sam2auto_ros.smart_od.prompting import FeaturesLike, decode_prompts, upscale_logits
from sam2auto_ros.smart_od.tiles import amg_crop_boxes

EDGE_TOLERANCE_PX = 20.0
"""Masks of a crop whose box lies this close to the crop's inner edge are cut off: dropped."""


def point_grid(per_side: int) -> np.ndarray:
    """``per_side**2`` (x, y) points in [0, 1], at the centres of a regular grid's cells."""
    centres = (np.arange(per_side) + 0.5) / per_side
    xs, ys = np.meshgrid(centres, centres)
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def stability_scores(logits: torch.Tensor, mask_threshold: float, offset: float) -> torch.Tensor:
    """IoU between the masks binarised at ``threshold + offset`` and ``threshold - offset``."""
    inner = (logits > mask_threshold + offset).flatten(1).sum(1).float()
    outer = (logits > mask_threshold - offset).flatten(1).sum(1).float()
    return torch.where(outer > 0, inner / outer.clamp(min=1), torch.zeros_like(outer))


def masks_to_boxes(masks: torch.Tensor) -> torch.Tensor:
    """Tight xyxy boxes (max exclusive) of boolean masks (N, H, W); zeros for empty masks."""
    if masks.shape[0] == 0:
        return torch.zeros((0, 4))
    height, width = masks.shape[-2:]
    cols, rows = masks.any(dim=1), masks.any(dim=2)
    x0 = cols.float().argmax(dim=1)
    x1 = width - cols.flip(1).float().argmax(dim=1)
    y0 = rows.float().argmax(dim=1)
    y1 = height - rows.flip(1).float().argmax(dim=1)
    boxes = torch.stack([x0, y0, x1, y1], dim=1).float()
    return torch.where(cols.any(dim=1)[:, None], boxes, torch.zeros_like(boxes))


@dataclass
class AmgStats:
    """How many masks survived each filter (summed over crops)."""

    points: int = 0
    decoded: int = 0
    after_pred_iou: int = 0
    after_stability: int = 0
    after_edge: int = 0
    after_nms: int = 0
    crops: int = 0
    final: int = 0


@dataclass
class Proposals:
    """Unlabelled SAM 2 mask proposals of one frame (label "", score = predicted IoU)."""

    instances: list[Instance]
    stability: np.ndarray
    stats: AmgStats = field(default_factory=AmgStats)


@dataclass
class _CropMasks:
    rles: list[dict]
    boxes: np.ndarray
    scores: np.ndarray
    stability: np.ndarray
    crop_area: float


class MaskGenerator:
    """SAM 2 automatic mask generation from precomputed features.

    ``model`` is a built SAM 2 model (``SAM2Base``); ``encoder`` (image crop -> features) is only
    needed for ``crop_n_layers > 0``.
    """

    def __init__(
        self,
        model,
        config: AmgConfig | None = None,
        encoder: Callable[[np.ndarray], FeaturesLike] | None = None,
    ) -> None:
        self.model = model
        self.config = config or AmgConfig()
        self.encoder = encoder
        if self.config.crop_n_layers > 0 and encoder is None:
            raise ValueError("amg.crop_n_layers > 0 needs an encoder (crop image -> features) to encode each crop")

    @torch.no_grad()
    def generate(self, features: FeaturesLike, image: np.ndarray | None = None) -> Proposals:
        """Proposals for the frame whose features are given (``image`` only for crop layers)."""
        cfg = self.config
        height, width = (int(v) for v in features.orig_hw)
        stats = AmgStats()
        crops = amg_crop_boxes(height, width, cfg.crop_n_layers, cfg.crop_overlap_ratio)
        if len(crops) > 1 and (image is None or image.shape[:2] != (height, width)):
            raise ValueError("crop layers need the frame itself: pass image= (H, W, 3) matching the features")
        results = []
        for crop, layer in crops:
            crop_features = features if layer == 0 else self.encoder(image[crop[1] : crop[3], crop[0] : crop[2]])
            per_side = max(1, cfg.points_per_side // cfg.crop_n_points_downscale_factor**layer)
            results.append(self._process_crop(crop_features, crop, (height, width), per_side, stats))
        stats.crops = len(crops)
        rles = [rle for r in results for rle in r.rles]
        boxes = np.concatenate([r.boxes for r in results]).reshape(-1, 4)
        scores = np.concatenate([r.scores for r in results])
        stability = np.concatenate([r.stability for r in results])
        if len(crops) > 1 and rles:
            crop_area = np.concatenate([np.full(len(r.rles), r.crop_area) for r in results])
            keep = nms(boxes, 1.0 / crop_area, cfg.crop_nms_thresh)  # prefer masks of smaller crops
        else:
            keep = np.arange(len(rles))
        instances, kept_stability = [], []
        for i in keep:
            mask = RleMask(height, width, bytes(rles[i]["counts"]))
            if mask.area < max(cfg.min_mask_area, 1):
                continue
            instances.append(
                Instance(mask=mask, box=boxes[i], label="", score=float(scores[i]), status=InstanceStatus.DETECTION)
            )
            kept_stability.append(stability[i])
        stats.final = len(instances)
        return Proposals(instances, np.asarray(kept_stability, dtype=np.float32), stats)

    def _process_crop(self, features, crop, frame_hw, per_side: int, stats: AmgStats) -> _CropMasks:
        cfg = self.config
        x0, y0, x1, y1 = crop
        crop_hw = (y1 - y0, x1 - x0)
        points = torch.as_tensor(point_grid(per_side) * np.array([crop_hw[1], crop_hw[0]]), dtype=torch.float32)
        stats.points += len(points)
        rles: list[dict] = []
        boxes, scores, stability = [], [], []
        for start in range(0, len(points), cfg.points_per_batch):
            batch = points[start : start + cfg.points_per_batch]
            labels = torch.ones((len(batch), 1), dtype=torch.int32)
            low_res, iou = decode_prompts(self.model, features, batch[:, None, :], labels, cfg.multimask_output)
            low_res, iou = low_res.flatten(0, 1), iou.flatten(0, 1).float()
            stats.decoded += len(iou)
            keep = iou > cfg.pred_iou_thresh  # on scores only: upscale just the survivors
            low_res, iou = low_res[keep], iou[keep]
            stats.after_pred_iou += len(iou)
            logits = upscale_logits(self.model, low_res[:, None], crop_hw)[:, 0]
            stable = stability_scores(logits, cfg.mask_threshold, cfg.stability_score_offset)
            keep = stable >= cfg.stability_score_thresh
            logits, iou, stable = logits[keep], iou[keep], stable[keep]
            stats.after_stability += len(iou)
            masks = (logits > cfg.mask_threshold).cpu()
            crop_boxes = masks_to_boxes(masks).numpy() + np.array([x0, y0, x0, y0], dtype=np.float32)
            keep_edge = ~_near_crop_edge(crop_boxes, crop, frame_hw)
            masks, crop_boxes = masks[torch.as_tensor(keep_edge)], crop_boxes[keep_edge]
            iou, stable = iou[torch.as_tensor(keep_edge)], stable[torch.as_tensor(keep_edge)]
            stats.after_edge += len(iou)
            rles += _encode_in_frame(masks.numpy(), crop, frame_hw)
            boxes.append(crop_boxes)
            scores.append(iou.cpu().numpy())
            stability.append(stable.cpu().numpy())
        boxes_np = np.concatenate(boxes).reshape(-1, 4) if boxes else np.zeros((0, 4))
        scores_np = np.concatenate(scores) if scores else np.zeros(0)
        stability_np = np.concatenate(stability) if stability else np.zeros(0)
        keep = nms(boxes_np, scores_np, cfg.box_nms_thresh)
        stats.after_nms += len(keep)
        area = float(box_areas(np.array([crop], dtype=np.float64))[0])
        return _CropMasks([rles[i] for i in keep], boxes_np[keep], scores_np[keep], stability_np[keep], area)


def _near_crop_edge(boxes: np.ndarray, crop, frame_hw) -> np.ndarray:
    """Boxes touching an edge of the crop that is not also an edge of the frame."""
    height, width = frame_hw
    crop_arr = np.asarray(crop, dtype=np.float64)
    frame_arr = np.array([0, 0, width, height], dtype=np.float64)
    near_crop = np.abs(boxes - crop_arr) <= EDGE_TOLERANCE_PX
    near_frame = np.abs(boxes - frame_arr) <= EDGE_TOLERANCE_PX
    return np.any(near_crop & ~near_frame, axis=1)


def _encode_in_frame(masks: np.ndarray, crop, frame_hw) -> list[dict]:
    """COCO RLEs of crop masks (N, h, w) placed into the full frame."""
    if len(masks) == 0:
        return []
    height, width = frame_hw
    x0, y0, x1, y1 = crop
    if (x0, y0, x1, y1) == (0, 0, width, height):
        full = masks
    else:
        full = np.zeros((len(masks), height, width), dtype=bool)
        full[:, y0:y1, x0:x1] = masks
    return mask_utils.encode(np.asfortranarray(full.transpose(1, 2, 0).astype(np.uint8)))
