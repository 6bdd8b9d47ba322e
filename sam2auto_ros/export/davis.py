"""DAVIS / YouTube-VOS layout: one indexed PNG of object ids per frame, plus YouTube-VOS meta.json.

This is what video-object-segmentation training reads (SAM 2's own PNG dataset loader included):
``Annotations/<video>/<frame>.png`` whose pixel values are object ids 1..254 (0 background) in the
DAVIS palette, with the same stem as the exported ``images/<video>/<frame>.jpg``. Track ids are
renumbered 1..N in order of first appearance; ``meta.json`` maps each id back to its track id and
label and lists the frames it is visible in. Masks that overlap are resolved as in MOTS (the
higher-scoring instance keeps the shared pixels).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from sam2auto_ros.core.instance import FrameInstances
from sam2auto_ros.export.coco import frame_file_name
from sam2auto_ros.export.common import ExportError, non_overlapping, tracked

MAX_OBJECTS = 254  # 255 is DAVIS' "void" value


def davis_palette() -> list[int]:
    """The DAVIS / PASCAL VOC colour map: the id's bits spread over the high bits of R, G and B."""
    palette = []
    for index in range(256):
        rgb = [0, 0, 0]
        value = index
        for shift in range(7, -1, -1):
            for channel in range(3):
                rgb[channel] |= ((value >> channel) & 1) << shift
            value >>= 3
        palette.extend(rgb)
    return palette


def write_davis(out_dir: str | Path, frames: Sequence[FrameInstances], video_name: str = "video") -> Path:
    """Write ``<out_dir>/Annotations/<video>/*.png`` and ``<out_dir>/meta.json``; returns ``out_dir``."""
    return write_davis_videos(out_dir, {video_name: frames})


def write_davis_videos(out_dir: str | Path, videos: Mapping[str, Sequence[FrameInstances]]) -> Path:
    """Several videos in one DAVIS / YouTube-VOS folder: ``Annotations/<video>/`` each, one ``meta.json``
    (object ids are per video, as in YouTube-VOS); returns ``out_dir``."""
    out_dir = Path(out_dir)
    meta = {name: {"objects": _write_video(out_dir / "Annotations" / name, frames, name)} for name, frames in videos.items()}
    (out_dir / "meta.json").write_text(json.dumps({"videos": meta}, indent=1))
    return out_dir


def _write_video(folder: Path, frames: Sequence[FrameInstances], video_name: str) -> dict[str, dict]:
    """One video's PNGs into ``folder``; returns its meta.json ``objects``."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    object_ids: dict[int, int] = {}
    objects: dict[str, dict] = {}
    palette = davis_palette()
    for n, frame, instances in tracked(frames):
        stem = Path(frame_file_name(n, video_name)).stem  # the exported JPEG frame's name
        ids = np.zeros((frame.height, frame.width), np.uint8)
        for inst, mask in non_overlapping(instances):
            if inst.track_id not in object_ids:
                if len(object_ids) == MAX_OBJECTS:
                    raise ExportError(f"more than {MAX_OBJECTS} tracks in video {video_name!r}: DAVIS PNGs hold ids "
                                      "1..254 only; export this sequence to YouTube-VIS or COCO instead")
                object_ids[inst.track_id] = len(object_ids) + 1
                objects[str(object_ids[inst.track_id])] = {"category": inst.label, "track_id": inst.track_id, "frames": []}
            davis_id = object_ids[inst.track_id]
            ids[mask.to_array()] = davis_id
            objects[str(davis_id)]["frames"].append(stem)
        image = Image.fromarray(ids, mode="P")
        image.putpalette(palette)
        image.save(folder / f"{stem}.png")
    return objects
