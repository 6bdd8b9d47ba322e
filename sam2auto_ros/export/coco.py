"""COCO instance segmentation (masks as compressed RLE), with each object's track id kept."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sam2auto_ros.core.instance import FrameInstances
from sam2auto_ros.export.common import Categories, is_visible, pixels_of


def frame_file_name(index: int, video_name: str = "video") -> str:
    """Image path of frame ``index`` relative to an export's ``images/`` folder (YouTube-VIS layout)."""
    return f"{video_name}/{index:06d}.jpg"


def to_coco(
    frames: Sequence[FrameInstances],
    categories: Categories,
    file_names: Sequence[str] | None = None,
    tracked_only: bool = False,
    video_name: str = "video",
) -> dict:
    """A COCO dict: one image per frame, one annotation per visible labelled instance with a mask.

    Annotations carry ``score`` (so the file also serves as detection results) and
    ``track_id`` (an extra field pycocotools ignores). ``tracked_only`` drops raw detections.
    """
    if file_names is not None and len(file_names) != len(frames):
        raise ValueError(f"{len(file_names)} file names for {len(frames)} frames")
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for n, frame in enumerate(frames):
        image_id = n + 1
        images.append(
            {
                "id": image_id,
                "file_name": file_names[n] if file_names is not None else frame_file_name(n, video_name),
                "height": frame.height,
                "width": frame.width,
                "stamp_ns": frame.stamp_ns,
            }
        )
        for inst in frame.instances:
            mask = pixels_of(inst)
            if mask is None or not is_visible(inst) or (tracked_only and not inst.has_track):
                continue
            x0, y0, x1, y1 = (float(v) for v in inst.box)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": categories.id_of(inst.label),
                    "segmentation": mask.to_coco(),
                    "area": mask.area,
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "iscrowd": 0,
                    "score": float(inst.score),
                    "track_id": inst.track_id,
                }
            )
    return {"images": images, "annotations": annotations, "categories": categories.to_coco()}


def to_coco_videos(videos: Mapping[str, Sequence[FrameInstances]], categories: Categories, tracked_only: bool = False) -> dict:
    """Several videos (a bag's cameras) in one COCO dict, each as ``to_coco`` makes it.

    Image and annotation ids run on through the videos (COCO wants them unique); every image and
    annotation carries its ``video_id`` and ``videos`` lists ``{id, name}``. Track ids stay the
    video's own (each camera has its own tracker), so ``(video_id, track_id)`` names one object.
    """
    listed: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for video_id, (name, frames) in enumerate(videos.items(), 1):
        part = to_coco(frames, categories, tracked_only=tracked_only, video_name=name)
        first_image, first_ann = len(images), len(annotations)
        for image in part["images"]:
            images.append({**image, "id": image["id"] + first_image, "video_id": video_id})
        for ann in part["annotations"]:
            annotations.append({**ann, "id": ann["id"] + first_ann, "image_id": ann["image_id"] + first_image, "video_id": video_id})
        listed.append({"id": video_id, "name": name})
    return {"videos": listed, "images": images, "annotations": annotations, "categories": categories.to_coco()}


def write_coco(path: str | Path, frames: Sequence[FrameInstances], categories: Categories, **kwargs) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_coco(frames, categories, **kwargs)))
    return path
