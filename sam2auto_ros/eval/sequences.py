"""Ground truth and predictions of one sequence, turned into the dictionaries trackeval's metric
classes read (``HOTA``, ``CLEAR``, ``Identity``, ``JAndF``), so no trackeval file reader is needed.

Frames are paired by position: ``gt[i]`` and ``pred[i]`` show the same image. Only instances with
a track id take part in tracking metrics; untracked detections (``track_id == -1``) are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from sam2auto_ros.core import NO_TRACK, FrameInstances, Instance, InstanceStatus, RleMask
from sam2auto_ros.core.masks import box_iou_matrix, mask_iou_matrix

SIMILARITIES = ("mask", "box")


class EvalError(ValueError):
    """Inputs the harness cannot score as given (mismatched lengths, missing masks, bad files)."""


def check_pair(gt: Sequence[FrameInstances], pred: Sequence[FrameInstances]) -> None:
    if len(gt) != len(pred):
        raise EvalError(f"ground truth has {len(gt)} frames but predictions have {len(pred)}; pair them frame by frame")
    for i, (g, p) in enumerate(zip(gt, pred)):
        if g.instances and p.instances and (g.height, g.width) != (p.height, p.width):
            raise EvalError(f"frame {i}: ground truth is {g.width}x{g.height}, prediction {p.width}x{p.height}")


def frames_from_mapping(frames: Mapping[int, FrameInstances], n_frames: int, like: Sequence[FrameInstances] = ()) -> list[FrameInstances]:
    """A dense list of ``n_frames`` from ``{frame number: FrameInstances}``, gaps as empty frames."""
    out = []
    for n in range(n_frames):
        frame = frames.get(n)
        if frame is None:
            ref = like[n] if n < len(like) else None
            frame = FrameInstances(ref.stamp_ns if ref else 0, ref.height if ref else 0, ref.width if ref else 0, (), frame_index=n)
        out.append(frame)
    extra = sorted(k for k in frames if not 0 <= k < n_frames)
    if extra:
        raise EvalError(f"frames {extra[:5]} lie outside the sequence of {n_frames} frames")
    return out


def coco_rle(mask: RleMask) -> dict:
    """pycocotools' in-memory RLE (bytes counts), as trackeval and COCOeval take it."""
    return {"size": [mask.height, mask.width], "counts": mask.counts}


def tracked(frame: FrameInstances) -> list[Instance]:
    """The instances a metric sees: tracked ones with something to see.

    A tracker keeps occluded objects alive and publishes them without pixels (FLASH's OCCLUDED
    status, an empty mask); they are no detection, neither for the ground truth nor for a tracker.
    """
    return [
        i for i in frame.instances
        if i.track_id != NO_TRACK and i.status != InstanceStatus.OCCLUDED and (i.mask is None or i.mask.area > 0)
    ]


def _similarity(gt: list[Instance], pred: list[Instance], similarity: str, index: int) -> np.ndarray:
    if similarity == "box":
        return box_iou_matrix(np.array([i.box for i in gt]).reshape(-1, 4), np.array([i.box for i in pred]).reshape(-1, 4))
    gt_masks, pred_masks = [i.mask for i in gt], [i.mask for i in pred]
    if any(m is None for m in gt_masks) or any(m is None for m in pred_masks):
        raise EvalError(f"frame {index}: mask similarity needs masks on every instance; use similarity='box'")
    return mask_iou_matrix([m for m in gt_masks if m is not None], [m for m in pred_masks if m is not None])


def _dense_ids(frames: Sequence[FrameInstances], what: str) -> dict[int, int]:
    ids: dict[int, int] = {}
    for n, frame in enumerate(frames):
        seen = [i.track_id for i in tracked(frame)]
        if len(seen) != len(set(seen)):
            raise EvalError(f"{what} frame {n} holds track id {max(seen, key=seen.count)} twice")
        for tid in seen:
            ids.setdefault(tid, len(ids))
    return ids


def trackeval_data(gt: Sequence[FrameInstances], pred: Sequence[FrameInstances], similarity: str = "mask") -> dict:
    """The per-sequence dict of trackeval's ``eval_sequence``: ids made 0..n-1, IoU matrices per frame."""
    if similarity not in SIMILARITIES:
        raise EvalError(f"similarity must be one of {SIMILARITIES}, got {similarity!r}")
    check_pair(gt, pred)
    gt_map, pred_map = _dense_ids(gt, "ground-truth"), _dense_ids(pred, "prediction")
    data: dict = {"num_timesteps": len(gt), "gt_ids": [], "tracker_ids": [], "similarity_scores": [],
                  "num_gt_ids": len(gt_map), "num_tracker_ids": len(pred_map), "num_gt_dets": 0, "num_tracker_dets": 0}
    for n, (g, p) in enumerate(zip(gt, pred)):
        gi, pi = tracked(g), tracked(p)
        data["gt_ids"].append(np.array([gt_map[i.track_id] for i in gi], dtype=int))
        data["tracker_ids"].append(np.array([pred_map[i.track_id] for i in pi], dtype=int))
        data["similarity_scores"].append(_similarity(gi, pi, similarity, n))
        data["num_gt_dets"] += len(gi)
        data["num_tracker_dets"] += len(pi)
    return data


def mask_data(gt: Sequence[FrameInstances], pred: Sequence[FrameInstances]) -> dict:
    """The dict trackeval's ``JAndF`` reads: per frame, the RLE masks of each id."""
    check_pair(gt, pred)
    gt_map, pred_map = _dense_ids(gt, "ground-truth"), _dense_ids(pred, "prediction")
    data: dict = {"num_timesteps": len(gt), "num_gt_ids": len(gt_map), "num_tracker_ids": len(pred_map),
                  "gt_ids": [], "tracker_ids": [], "gt_dets": [], "tracker_dets": []}
    for n, (g, p) in enumerate(zip(gt, pred)):
        for frame, ids, mapping, key in ((g, "gt_ids", gt_map, "gt_dets"), (p, "tracker_ids", pred_map, "tracker_dets")):
            instances = tracked(frame)
            masks = [i.mask for i in instances]
            if any(m is None for m in masks):
                raise EvalError(f"frame {n}: J&F needs masks on every tracked instance")
            data[ids].append(np.array([mapping[i.track_id] for i in instances], dtype=int))
            data[key].append([coco_rle(m) for m in masks if m is not None])
    return data
