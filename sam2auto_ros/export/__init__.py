"""Dataset exporters: tracks (sequences of ``FrameInstances``) to COCO, YouTube-VIS, MOTS, MOT and
DAVIS / YouTube-VOS PNG masks.

``export_tracks`` writes one video in one format into a folder; ``export_videos`` writes several
(a bag's cameras) as ONE dataset. The format modules hold the details.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from sam2auto_ros.core.instance import FrameInstances
from sam2auto_ros.export.coco import to_coco, to_coco_videos, write_coco
from sam2auto_ros.export.common import Categories, ExportError
from sam2auto_ros.export.davis import write_davis, write_davis_videos
from sam2auto_ros.export.mots import read_mots, write_mot, write_mots
from sam2auto_ros.export.ytvis import to_ytvis, to_ytvis_videos, write_ytvis

FORMATS = ("coco", "ytvis", "mots", "mot", "davis")
FILE_NAMES = {"coco": "coco.json", "ytvis": "ytvis.json", "mots": "mots.txt", "mot": "mot.txt", "davis": "davis"}


def export_tracks(
    frames: Sequence[FrameInstances],
    out_dir: str | Path,
    fmt: str,
    categories: Categories | Sequence[str] | None = None,
    video_name: str = "video",
) -> Path:
    """Write ``frames`` as ``fmt`` into ``out_dir`` and return the file (DAVIS: the folder) written."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    frames = list(frames)
    if not frames:
        raise ExportError("no frames to export")
    categories = _categories(categories, frames)
    path = Path(out_dir) / FILE_NAMES[fmt]
    if fmt == "coco":
        return write_coco(path, frames, categories, tracked_only=True, video_name=video_name)
    if fmt == "ytvis":
        return write_ytvis(path, frames, categories, video_name=video_name)
    if fmt == "mots":
        return write_mots(path, frames, categories)
    if fmt == "davis":
        return write_davis(path, frames, video_name)
    return write_mot(path, frames)


def export_videos(
    videos: Mapping[str, Sequence[FrameInstances]],
    out_dir: str | Path,
    fmt: str,
    categories: Categories | Sequence[str] | None = None,
) -> Path:
    """Write several videos (name -> frames) as ONE dataset in ``fmt``; returns the file or folder written.

    COCO and YouTube-VIS hold every video in one file (ids numbered through; see ``to_coco_videos``,
    ``to_ytvis_videos``) and DAVIS in one folder (``Annotations/<video>/``, one ``meta.json``);
    MOTS and MOT are per-sequence files, so they become ``mots/<video>.txt`` and ``mot/<video>.txt``
    (the folder is returned). Image paths are ``<video>/<frame>.jpg`` as for one video.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    videos = {name: list(frames) for name, frames in videos.items()}
    empty = [name for name, frames in videos.items() if not frames]
    if not videos or empty:
        raise ExportError(f"no frames to export{' in video ' + ', '.join(empty) if empty else ''}")
    categories = _categories(categories, [f for frames in videos.values() for f in frames])
    path = Path(out_dir) / FILE_NAMES[fmt]
    if fmt in ("coco", "ytvis"):
        data = to_coco_videos(videos, categories, tracked_only=True) if fmt == "coco" else to_ytvis_videos(videos, categories)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))
        return path
    if fmt == "davis":
        return write_davis_videos(path, videos)
    folder = Path(out_dir) / fmt
    for name, frames in videos.items():
        if fmt == "mots":
            write_mots(folder / f"{name}.txt", frames, categories)
        else:
            write_mot(folder / f"{name}.txt", frames)
    return folder


def _categories(categories: Categories | Sequence[str] | None, frames: Sequence[FrameInstances]) -> Categories:
    if categories is None:
        return Categories.from_frames(frames)
    return categories if isinstance(categories, Categories) else Categories(categories)


__all__ = [
    "FORMATS",
    "Categories",
    "ExportError",
    "export_tracks",
    "export_videos",
    "read_mots",
    "to_coco",
    "to_coco_videos",
    "to_ytvis",
    "to_ytvis_videos",
    "write_coco",
    "write_davis",
    "write_davis_videos",
    "write_mot",
    "write_mots",
    "write_ytvis",
]
