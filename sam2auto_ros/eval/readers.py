"""Ground truth and predictions from disk in standard formats, paired by sequence name.

Supported: MOTChallenge box txt (``frame,id,x,y,w,h,conf,...``; a sequence is ``<name>.txt`` or
the MOTChallenge layout ``<name>/gt/gt.txt`` with an optional ``seqinfo.ini``), MOTS txt
(``frame id class_id height width rle``) and YouTube-VIS json (``<name>.json``: ground truth with
``videos``/``annotations``/``categories``, predictions in the same form or as the official
results list; each video is one sequence, ``<name>/<video>``) and DAVIS-style PNG folders
(``<name>/<frame>.png``, one indexed PNG per frame whose pixel values are object ids: 0 background,
255 void/ignored; sorted file names give the frame order). Frames are numbered from 1 in the txt
formats, as MOTChallenge does. The MOTS and YouTube-VIS files are what ``sam2auto dataset
export`` writes.
"""

from __future__ import annotations

import configparser
import json
from pathlib import Path

import numpy as np

from sam2auto_ros.core import FrameInstances, Instance, InstanceStatus, RleMask
from sam2auto_ros.core.masks import MaskCodecError
from sam2auto_ros.eval.sequences import EvalError, frames_from_mapping

FORMATS = ("auto", "mot", "mots", "ytvis", "davis")
_DAVIS_VOID = 255
_MOTS_ID_FACTOR = 1000


def read_mot(path: str | Path, min_confidence: float | None = None, size: tuple[int, int] = (0, 0)) -> dict[int, FrameInstances]:
    """A MOTChallenge txt as ``{frame number from 0: FrameInstances}`` of boxes (no masks).

    ``min_confidence`` drops rows below it (MOTChallenge ground truth marks rows to ignore with
    confidence 0); ``size`` is ``(height, width)`` when known (``seqinfo.ini``).
    """
    path = Path(path)
    try:
        rows = np.loadtxt(path, delimiter=",", ndmin=2, usecols=range(7))
    except (ValueError, OSError) as exc:
        raise EvalError(f"{path}: not a MOTChallenge txt (frame,id,x,y,w,h,conf,...): {exc}") from exc
    frames: dict[int, list[Instance]] = {}
    for row in rows:
        frame, track, x, y, w, h, conf = row
        if min_confidence is not None and conf < min_confidence:
            continue
        if frame < 1 or w <= 0 or h <= 0:
            raise EvalError(f"{path}: bad row {row.tolist()} (frames count from 1, boxes need positive size)")
        frames.setdefault(int(frame) - 1, []).append(
            Instance(mask=None, box=np.array([x, y, x + w, y + h], dtype=np.float32), score=float(conf), track_id=int(track),
                     status=InstanceStatus.CONFIRMED)
        )
    return {n: FrameInstances(0, size[0], size[1], tuple(insts), frame_index=n) for n, insts in sorted(frames.items())}


def read_mots(path: str | Path) -> dict[int, FrameInstances]:
    """A MOTS txt as ``{frame number from 0: FrameInstances}``; label = the class id as text."""
    path = Path(path)
    frames: dict[int, list[Instance]] = {}
    sizes: dict[int, tuple[int, int]] = {}
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            frame, obj, class_id, height, width = (int(p) for p in parts[:5])
            mask = RleMask.from_coco({"size": [height, width], "counts": parts[5]})
        except (ValueError, IndexError, MaskCodecError) as exc:
            raise EvalError(f"{path}:{lineno}: not a MOTS line (frame id class_id height width rle): {exc}") from exc
        frames.setdefault(frame - 1, []).append(
            Instance(mask=mask, label=str(class_id), score=1.0, track_id=obj % _MOTS_ID_FACTOR,
                     class_id=class_id, status=InstanceStatus.CONFIRMED)
        )
        sizes[frame - 1] = (height, width)
    return {n: FrameInstances(0, *sizes[n], tuple(insts), frame_index=n) for n, insts in sorted(frames.items())}


def read_ytvis(path: str | Path, reference: dict | None = None) -> dict[str, list[FrameInstances]]:
    """A YouTube-VIS json as ``{video name: frames}``: one track per annotation (or result entry).

    A results list carries neither videos nor categories: they come from ``reference``, the
    ground truth's json content.
    """
    path = Path(path)
    try:
        content = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise EvalError(f"{path}: not a readable json file: {exc}") from exc
    if isinstance(content, list):  # the official results format: just the tracks
        if reference is None:
            raise EvalError(f"{path}: a YouTube-VIS results list needs the ground truth's videos and categories")
        table, tracks = reference, content
    elif isinstance(content, dict) and "videos" in content and "annotations" in content:
        table, tracks = content, content["annotations"]
    else:
        raise EvalError(f"{path}: a YouTube-VIS json needs 'videos' and 'annotations' (or is a results list)")
    categories = {int(c["id"]): str(c["name"]) for c in table.get("categories", [])}
    videos = {int(v["id"]): v for v in table["videos"]}
    per_video: dict[int, dict[int, list[Instance]]] = {v: {} for v in videos}
    for k, track in enumerate(tracks):
        try:
            video, segments = int(track["video_id"]), track["segmentations"]
            track_id = int(track.get("track_id", track.get("id", k + 1)))
            label = categories.get(int(track["category_id"]), str(track["category_id"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise EvalError(f"{path}: track {k} lacks video_id / category_id / segmentations: {exc}") from exc
        if video not in videos:
            raise EvalError(f"{path}: track {k} names video {video}, which the ground truth does not have")
        for n, segment in enumerate(segments):
            if segment is None:
                continue
            try:
                mask = RleMask.from_coco(segment)
            except MaskCodecError as exc:
                raise EvalError(f"{path}: track {k}, frame {n}: {exc}") from exc
            per_video[video].setdefault(n, []).append(Instance(
                mask=mask, label=label, score=float(track.get("score", 1.0)), track_id=track_id,
                status=InstanceStatus.CONFIRMED))
    out = {}
    for video_id, video in videos.items():
        length = int(video.get("length") or len(video.get("file_names", [])))
        found = per_video[video_id]
        if any(n >= length for n in found):
            raise EvalError(f"{path}: video {video_id} has masks beyond its {length} frames")
        height, width = int(video.get("height", 0)), int(video.get("width", 0))
        out[str(video.get("name", video_id))] = [
            FrameInstances(0, height, width, tuple(found.get(n, ())), frame_index=n) for n in range(length)
        ]
    return out


def read_davis(folder: str | Path) -> list[FrameInstances]:
    """One DAVIS-style sequence folder of indexed PNGs; every object gets the label "object"."""
    from PIL import Image

    folder = Path(folder)
    paths = sorted(folder.glob("*.png"))
    if not paths:
        raise EvalError(f"{folder}: no PNG masks")
    frames = []
    for n, path in enumerate(paths):
        try:
            with Image.open(path) as image:
                ids = np.asarray(image)
        except OSError as exc:
            raise EvalError(f"{path}: not a readable PNG: {exc}") from exc
        if ids.ndim != 2:
            raise EvalError(f"{path}: expected an indexed (palette) or grey PNG of object ids, got shape {ids.shape}")
        instances = tuple(
            Instance.from_mask_array(ids == value, label="object", score=1.0, track_id=int(value),
                                     status=InstanceStatus.CONFIRMED)
            for value in np.unique(ids) if value not in (0, _DAVIS_VOID)
        )
        frames.append(FrameInstances(0, ids.shape[0], ids.shape[1], instances, frame_index=n))
    return frames


def _davis_pairs(gt_dir: Path, pred_dir: Path) -> dict[str, tuple[list[FrameInstances], list[FrameInstances]]]:
    pairs = {}
    for folder in sorted(d for d in gt_dir.iterdir() if d.is_dir() and any(d.glob("*.png"))):
        if not (pred_dir / folder.name).is_dir():
            raise EvalError(f"no predictions for {folder.name} in {pred_dir} (expected a folder of PNGs)")
        gt, pred = read_davis(folder), read_davis(pred_dir / folder.name)
        if len(gt) != len(pred):
            raise EvalError(f"{folder.name}: {len(gt)} ground-truth masks but {len(pred)} predicted ones")
        pairs[folder.name] = (gt, pred)
    if not pairs:
        raise EvalError(f"no folders of PNG masks in {gt_dir}")
    return pairs


def _ytvis_pairs(gt_dir: Path, pred_dir: Path) -> dict[str, tuple[list[FrameInstances], list[FrameInstances]]]:
    pairs = {}
    for gt_path in sorted(gt_dir.glob("*.json")):
        pred_path = pred_dir / gt_path.name
        if not pred_path.is_file():
            raise EvalError(f"no predictions for {gt_path.stem} in {pred_dir} (expected {gt_path.name})")
        gt = read_ytvis(gt_path)
        pred = read_ytvis(pred_path, reference=json.loads(gt_path.read_text()))
        for video, gt_frames in gt.items():
            if video not in pred or len(pred[video]) != len(gt_frames):
                raise EvalError(f"{pred_path}: video {video!r} is missing or has another length than the ground truth")
            pairs[f"{gt_path.stem}/{video}"] = (gt_frames, pred[video])
    if not pairs:
        raise EvalError(f"no YouTube-VIS json in {gt_dir}")
    return pairs


def sniff_format(path: Path) -> str:
    if path.suffix == ".json":
        return "ytvis"
    with path.open() as handle:
        for line in handle:
            if line.strip():
                return "mot" if "," in line else "mots"
    return "mot"


def _gt_files(gt_dir: Path) -> dict[str, tuple[Path, Path | None]]:
    """``{sequence: (ground-truth txt, seqinfo.ini or None)}``."""
    found: dict[str, tuple[Path, Path | None]] = {}
    for entry in sorted(gt_dir.iterdir()):
        if entry.is_dir() and (entry / "gt" / "gt.txt").is_file():
            info = entry / "seqinfo.ini"
            found[entry.name] = (entry / "gt" / "gt.txt", info if info.is_file() else None)
        elif entry.is_file() and entry.suffix == ".txt":
            found[entry.stem] = (entry, None)
    return found


def _seqinfo(path: Path | None) -> tuple[int | None, tuple[int, int]]:
    if path is None:
        return None, (0, 0)
    parser = configparser.ConfigParser()
    parser.read(path)
    section = parser["Sequence"] if parser.has_section("Sequence") else {}
    length = int(section["seqLength"]) if "seqLength" in section else None
    size = (int(section.get("imHeight", 0)), int(section.get("imWidth", 0)))
    return length, size


def read_sequence_dirs(
    gt_dir: str | Path, pred_dir: str | Path, fmt: str = "auto", gt_min_confidence: float | None = None
) -> tuple[dict[str, tuple[list[FrameInstances], list[FrameInstances]]], str]:
    """Pair every ground-truth sequence with ``pred_dir/<name>.txt`` (``.json`` for YouTube-VIS, a
    folder for DAVIS); returns the pairs and the similarity they support ("box" for MOT, "mask"
    for the others)."""
    gt_dir, pred_dir = Path(gt_dir), Path(pred_dir)
    for d in (gt_dir, pred_dir):
        if not d.is_dir():
            raise EvalError(f"{d} is not a directory")
    if fmt not in FORMATS:
        raise EvalError(f"format must be one of {FORMATS}, got {fmt!r}")
    if fmt == "ytvis" or (fmt == "auto" and any(gt_dir.glob("*.json")) and not any(gt_dir.glob("*.txt"))):
        return _ytvis_pairs(gt_dir, pred_dir), "mask"
    if fmt == "davis" or (fmt == "auto" and any(gt_dir.glob("*/*.png"))):
        return _davis_pairs(gt_dir, pred_dir), "mask"
    sources = _gt_files(gt_dir)
    if not sources:
        raise EvalError(f"no sequences in {gt_dir}: expected <name>.txt or <name>/gt/gt.txt")
    missing = [name for name in sources if not (pred_dir / f"{name}.txt").is_file()]
    if missing:
        raise EvalError(f"no predictions for {', '.join(missing)} in {pred_dir} (expected <name>.txt per sequence)")
    formats = {sniff_format(path) if fmt == "auto" else fmt for path, _ in sources.values()}
    if len(formats) != 1:
        raise EvalError(f"{gt_dir} mixes MOT and MOTS files; evaluate them separately")
    kind = formats.pop()
    pairs = {}
    for name, (gt_path, info) in sources.items():
        length, size = _seqinfo(info)
        if kind == "mot":
            gt, pred = read_mot(gt_path, gt_min_confidence, size), read_mot(pred_dir / f"{name}.txt", None, size)
        else:
            gt, pred = read_mots(gt_path), read_mots(pred_dir / f"{name}.txt")
        n_frames = length or max([*gt, *pred], default=-1) + 1
        gt_frames = frames_from_mapping(gt, n_frames)
        pairs[name] = (gt_frames, frames_from_mapping(pred, n_frames, like=gt_frames))
    return pairs, ("box" if kind == "mot" else "mask")
