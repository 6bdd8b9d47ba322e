"""YouTube-VIS: one video (or several: ``to_ytvis_videos``), one annotation per track holding its
per-frame masks (None where absent)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sam2auto_ros.core.instance import FrameInstances, Instance
from sam2auto_ros.core.masks import RleMask
from sam2auto_ros.export.coco import frame_file_name
from sam2auto_ros.export.common import Categories, pixels_of, tracked


def track_category(labels_scores: Sequence[tuple[str, float]]) -> str:
    """A track's label: the one with the highest summed score (ties: first seen)."""
    totals: dict[str, float] = {}
    for label, score in labels_scores:
        totals[label] = totals.get(label, 0.0) + score
    return max(totals, key=totals.__getitem__)


def to_ytvis(
    frames: Sequence[FrameInstances],
    categories: Categories,
    video_name: str = "video",
    file_names: Sequence[str] | None = None,
) -> dict:
    """The YouTube-VIS (2019/2021) json dict for one video; track scores become ``score``."""
    if not frames:
        raise ValueError("no frames to export")
    height, width = frames[0].height, frames[0].width
    if any((f.height, f.width) != (height, width) for f in frames):
        raise ValueError("YouTube-VIS needs one image size per video; frame sizes differ")
    names = list(file_names) if file_names is not None else [frame_file_name(n, video_name) for n in range(len(frames))]
    per_track: dict[int, dict[int, tuple[Instance, RleMask]]] = defaultdict(dict)
    votes: dict[int, list[tuple[str, float]]] = defaultdict(list)
    for n, _, instances in tracked(frames):
        for inst in instances:
            mask = pixels_of(inst)
            if mask is None:
                continue
            if n in per_track[inst.track_id]:
                raise ValueError(f"track {inst.track_id} appears twice in frame {n}")
            per_track[inst.track_id][n] = (inst, mask)
            votes[inst.track_id].append((inst.label, inst.score))
    annotations: list[dict[str, Any]] = []
    for track_id in sorted(per_track):
        seen = per_track[track_id]
        segs: list[dict[str, Any] | None] = []
        boxes: list[list[float] | None] = []
        areas: list[int | None] = []
        for n in range(len(frames)):
            if n not in seen:
                segs.append(None), boxes.append(None), areas.append(None)
                continue
            inst, mask = seen[n]
            x0, y0, x1, y1 = (float(v) for v in inst.box)
            segs.append(mask.to_coco())
            boxes.append([x0, y0, x1 - x0, y1 - y0])
            areas.append(mask.area)
        scores = [s for _, s in votes[track_id]]
        annotations.append(
            {
                "id": len(annotations) + 1,
                "video_id": 1,
                "category_id": categories.id_of(track_category(votes[track_id])),
                "segmentations": segs,
                "bboxes": boxes,
                "areas": areas,
                "iscrowd": 0,
                "height": height,
                "width": width,
                "length": len(seen),
                "score": sum(scores) / len(scores),
                "track_id": track_id,
            }
        )
    video = {"id": 1, "name": video_name, "width": width, "height": height, "length": len(frames), "file_names": names}
    return {"videos": [video], "annotations": annotations, "categories": categories.to_coco()}


def to_ytvis_videos(videos: Mapping[str, Sequence[FrameInstances]], categories: Categories) -> dict:
    """Several videos (a bag's cameras) in one YouTube-VIS dict: video ids 1..N in order, annotation
    (instance) ids numbered through all videos; ``track_id`` stays the video's own tracker id."""
    listed: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for video_id, (name, frames) in enumerate(videos.items(), 1):
        part = to_ytvis(frames, categories, video_name=name)
        listed.append({**part["videos"][0], "id": video_id})
        for ann in part["annotations"]:
            annotations.append({**ann, "id": len(annotations) + 1, "video_id": video_id})
    return {"videos": listed, "annotations": annotations, "categories": categories.to_coco()}


def write_ytvis(path: str | Path, frames: Sequence[FrameInstances], categories: Categories, **kwargs) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_ytvis(frames, categories, **kwargs)))
    return path
