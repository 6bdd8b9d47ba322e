"""Dataset exporters: tracks (sequences of ``FrameInstances``) to COCO, YouTube-VIS, MOTS, MOT and
DAVIS / YouTube-VOS PNG masks.

``export_tracks`` writes one format into a folder; the format modules hold the details.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sam2auto_ros.core.instance import FrameInstances
from sam2auto_ros.export.coco import to_coco, write_coco
from sam2auto_ros.export.common import Categories, ExportError
from sam2auto_ros.export.davis import write_davis
from sam2auto_ros.export.mots import read_mots, write_mot, write_mots
from sam2auto_ros.export.ytvis import to_ytvis, write_ytvis

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
    if categories is None:
        categories = Categories.from_frames(frames)
    elif not isinstance(categories, Categories):
        categories = Categories(categories)
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


__all__ = [
    "FORMATS",
    "Categories",
    "ExportError",
    "export_tracks",
    "read_mots",
    "to_coco",
    "to_ytvis",
    "write_coco",
    "write_davis",
    "write_mot",
    "write_mots",
    "write_ytvis",
]
