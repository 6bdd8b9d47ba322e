"""Video files and image folders -> camera bags, so footage from any source takes the one path the
package annotates (``annotate-bag``), with stamps a planner or a dataset can rely on.

A folder is read in natural name order (``frame_2`` before ``frame_10``). An unreadable image in
a folder is skipped, named and counted; the rest is kept. Frames of another size than the first
stop the import with the file named: one bag holds one camera setting. The bag is written under a
scratch name and renamed when complete (:func:`sam2auto_ros.io.outputs.staged_output`), so a failed
or interrupted import never leaves a half bag at the output; its data file is ``BAG/BAG.mcap``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from sam2auto_ros.core.validation import MAX_FPS, MIN_FPS, ValidationError, check_fps, check_ros_name
from sam2auto_ros.io import msg_types
from sam2auto_ros.io.bags import STORAGES, BagWriter
from sam2auto_ros.io.images import encode_compressed, image_fields
from sam2auto_ros.io.instance_msgs import MessageClasses, ns_to_stamp
from sam2auto_ros.io.outputs import staged_output

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
ENCODINGS = ("jpeg", "png", "raw")
DEFAULT_FPS = 30.0
NS_PER_S = 1_000_000_000


class VideoImportError(ValueError):
    """Input that cannot become a camera bag (missing, unreadable, mixed sizes...)."""


@dataclass
class ImportReport:
    bag: Path
    topic: str
    frames: int
    fps: float
    width: int
    height: int
    skipped: list[str] = field(default_factory=list)


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def folder_images(folder: Path) -> list[Path]:
    images = sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)
    if not images:
        raise VideoImportError(f"folder {folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return images


def _folder_frames(images: list[Path], skipped: list[str]) -> Iterator[np.ndarray]:
    for path in images:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            log.warning("skipping %s: not a readable image", path)
            skipped.append(path.name)
            continue
        yield bgr


def _video_frames(capture: cv2.VideoCapture) -> Iterator[np.ndarray]:
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                return
            yield bgr
    finally:
        capture.release()


def open_source(source: Path, fps: float | None, skipped: list[str]) -> tuple[Iterator[np.ndarray], float, int | None]:
    """(BGR frames, rate, expected count or None) of a video file or an image folder."""
    if not source.exists():
        raise VideoImportError(f"{source} does not exist; give a video file or a folder of images")
    if source.is_dir():
        images = folder_images(source)
        return _folder_frames(images, skipped), fps or DEFAULT_FPS, len(images)
    capture = cv2.VideoCapture(str(source))
    if not capture.isOpened():
        capture.release()
        raise VideoImportError(f"{source} cannot be opened as a video (unknown container or codec, or damaged); "
                               "convert it with ffmpeg or extract its frames into a folder")
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    rate = fps or capture.get(cv2.CAP_PROP_FPS)
    if not rate or not np.isfinite(rate) or not MIN_FPS <= rate <= MAX_FPS:
        log.warning("%s does not state a usable frame rate (%s); using %.0f fps (set --fps)", source, rate, DEFAULT_FPS)
        rate = DEFAULT_FPS
    return _video_frames(capture), float(rate), count


def video_to_bag(
    source: str | Path, bag: str | Path, *, fps: float | None = None, topic: str = "/camera/image_raw",
    encoding: str = "jpeg", frame_id: str = "camera", storage: str = "mcap", start_ns: int = NS_PER_S,
    progress: bool = False,
) -> ImportReport:
    """Write ``source`` as a camera bag at ``bag``: ``Image`` (``raw``, rgb8) on ``topic`` or
    ``CompressedImage`` (``jpeg``/``png``) on ``<topic>/compressed``; frame i is stamped
    ``start_ns + i / fps``."""
    source, bag = Path(source), Path(bag)
    if encoding not in ENCODINGS:
        raise VideoImportError(f"unknown encoding {encoding!r}; choose one of {', '.join(ENCODINGS)}")
    if storage not in STORAGES:
        raise VideoImportError(f"unknown storage {storage!r}; choose one of {', '.join(STORAGES)}")
    try:
        if fps is not None:
            check_fps(fps)
        check_ros_name(topic, "--topic")
    except ValidationError as exc:
        raise VideoImportError(str(exc)) from exc
    if bag.exists():
        raise VideoImportError(f"{bag} already exists; choose a new output path")
    skipped: list[str] = []
    frames, rate, expected = open_source(source, fps, skipped)
    out_topic = topic if encoding == "raw" else f"{topic.rstrip('/')}/compressed"
    with staged_output(bag) as stage:  # written as BAG/BAG.mcap in scratch, renamed when complete
        count, size = _write(frames, stage.path, out_topic, encoding, frame_id, storage, rate, start_ns,
                             tqdm(total=expected, desc="import", unit="frame", disable=not progress), source)
        if count == 0:
            raise VideoImportError(f"{source} gave no readable frames" + (f" ({len(skipped)} unreadable images)" if skipped else ""))
    if expected is not None and source.is_file() and count < expected:
        log.warning("%s announced %d frames but %d decoded (a damaged or truncated file?); the bag holds those %d",
                    source, expected, count, count)
    return ImportReport(bag, out_topic, count, rate, size[1], size[0], skipped)


def _write(frames: Iterator[np.ndarray], bag: Path, topic: str, encoding: str, frame_id: str, storage: str,
           rate: float, start_ns: int, bar: tqdm, source: Path) -> tuple[int, tuple[int, int]]:
    store = msg_types.typestore()
    classes = MessageClasses.rosbags()
    message_cls = store.types[msg_types.IMAGE if encoding == "raw" else msg_types.COMPRESSED_IMAGE]
    size: tuple[int, int] = (0, 0)
    count = 0
    with bar, BagWriter(bag, storage=storage) as writer:
        writer.set_custom_data("source", str(source))
        writer.set_custom_data("fps", f"{rate:g}")
        for bgr in frames:
            if count == 0:
                size = bgr.shape[:2]
            elif bgr.shape[:2] != size:
                raise VideoImportError(f"frame {count} of {source} is {bgr.shape[1]}x{bgr.shape[0]}, earlier frames "
                                       f"are {size[1]}x{size[0]}: one bag holds one camera setting; split the input")
            stamp = start_ns + round(count * NS_PER_S / rate)
            header = classes.header(stamp=ns_to_stamp(stamp, classes.time), frame_id=frame_id)
            rgb = bgr[..., ::-1]
            if encoding == "raw":
                msg = message_cls(header=header, **image_fields(np.ascontiguousarray(rgb)))
            else:
                fmt, data = encode_compressed(rgb, encoding)
                msg = message_cls(header=header, format=fmt, data=data)
            writer.write(topic, msg, stamp)
            count += 1
            bar.update()
    return count, size
