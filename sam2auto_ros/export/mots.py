"""MOTS txt (KITTI MOTS / MOTSChallenge) and MOTChallenge box txt, written and read back.

MOTS line: ``frame id class_id height width rle`` with ``id = class_id * 1000 + instance`` and
masks that must not overlap (the official tools reject overlaps): where tracked masks overlap,
the pixel goes to the higher-scoring instance. MOT line:
``frame,id,x,y,w,h,conf,-1,-1,-1``. Frames are numbered from ``first_frame`` (MOTSChallenge
and MOTChallenge count from 1, KITTI MOTS from 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sam2auto_ros.core.instance import FrameInstances, Instance, InstanceStatus
from sam2auto_ros.core.masks import RleMask
from sam2auto_ros.export.common import Categories, ExportError, non_overlapping, tracked

MOTS_ID_FACTOR = 1000


def _mots_id(inst: Instance, class_id: int) -> int:
    if not 0 < inst.track_id < MOTS_ID_FACTOR:
        raise ExportError(
            f"track id {inst.track_id} does not fit MOTS (ids must be 1..{MOTS_ID_FACTOR - 1} "
            "inside class_id * 1000 + id); export this sequence to YouTube-VIS or COCO instead"
        )
    return class_id * MOTS_ID_FACTOR + inst.track_id


def mots_lines(frames: Sequence[FrameInstances], categories: Categories, first_frame: int = 1) -> list[str]:
    lines = []
    for n, frame, instances in tracked(frames):
        for inst, mask in non_overlapping(instances):
            class_id = categories.id_of(inst.label)
            lines.append(
                f"{n + first_frame} {_mots_id(inst, class_id)} {class_id} {frame.height} {frame.width} {mask.counts.decode('ascii')}"
            )
    return lines


def mot_lines(frames: Sequence[FrameInstances], first_frame: int = 1) -> list[str]:
    lines = []
    for n, _, instances in tracked(frames):
        for inst in sorted(instances, key=lambda i: i.track_id):
            x0, y0, x1, y1 = (float(v) for v in inst.box)
            if x1 <= x0 or y1 <= y0:
                continue
            lines.append(f"{n + first_frame},{inst.track_id},{x0:.2f},{y0:.2f},{x1 - x0:.2f},{y1 - y0:.2f},{inst.score:.4f},-1,-1,-1")
    return lines


def _write(path: str | Path, lines: list[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return path


def write_mots(path: str | Path, frames: Sequence[FrameInstances], categories: Categories, first_frame: int = 1) -> Path:
    return _write(path, mots_lines(frames, categories, first_frame))


def write_mot(path: str | Path, frames: Sequence[FrameInstances], first_frame: int = 1) -> Path:
    return _write(path, mot_lines(frames, first_frame))


def read_mots(path: str | Path, categories: Categories, first_frame: int = 1) -> dict[int, FrameInstances]:
    """A MOTS txt as ``{frame number (0-based): FrameInstances}``; track id = id % 1000."""
    frames: dict[int, list[Instance]] = {}
    sizes: dict[int, tuple[int, int]] = {}
    for lineno, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(" ")
        if len(parts) != 6:
            raise ExportError(f"{path}:{lineno}: expected 6 space-separated fields, got {len(parts)}")
        frame, obj, class_id, height, width = (int(p) for p in parts[:5])
        if class_id < 1 or class_id > len(categories.names):
            raise ExportError(f"{path}:{lineno}: class id {class_id} is not in the categories")
        mask = RleMask.from_coco({"size": [height, width], "counts": parts[5]})
        n = frame - first_frame
        frames.setdefault(n, []).append(
            Instance(mask=mask, label=categories.names[class_id - 1], track_id=obj % MOTS_ID_FACTOR,
                     class_id=class_id - 1, status=InstanceStatus.CONFIRMED)
        )
        sizes[n] = (height, width)
    return {n: FrameInstances(stamp_ns=0, height=sizes[n][0], width=sizes[n][1], instances=tuple(insts), frame_index=n)
            for n, insts in sorted(frames.items())}
