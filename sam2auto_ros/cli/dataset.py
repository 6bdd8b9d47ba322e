"""``sam2auto dataset``: camera bags from videos, datasets from labelled bags, recovery of a killed recording.

``sam2auto dataset import VIDEO_OR_FOLDER --out BAG`` turns a video file or a folder of images
into a camera bag (CompressedImage, stamped at the video's rate), ready for ``annotate-bag``.

``sam2auto dataset export BAG --format coco ytvis mots mot --out DIR`` writes the bag's tracks
in each format, the frames as JPEGs (``DIR/images/<video>/``) and an overlay video
(``DIR/overlay.mp4``). A bag with several cameras' tracks needs ``--camera NAME`` (image topic,
namespace or name: ``/front/image``, ``/front``, ``front``) or ``--all-cameras`` (one dataset, a
video per camera, named after it). DIR must be new or empty; nothing is left there if the export fails. ``sam2auto dataset recover BAG`` finishes a bag whose recorder was killed
(everything flushed before the kill is kept: at most the recorder's ``flush_period_s`` is lost) and
repairs damaged splits; bytes it cannot read are never deleted (the originals go to
``BAG/unrecovered/``), and it exits with 2 when there were any.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sam2auto_ros.export import FORMATS, ExportError
from sam2auto_ros.io.bags import BagError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("dataset", help="export datasets from labelled bags; recover killed recordings",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="dataset_command", required=True, metavar="ACTION")
    export = sub.add_parser("export", help="tracks of a bag -> COCO / YouTube-VIS / MOTS / MOT files")
    export.add_argument("bag", type=Path, help="annotated or recorded bag")
    export.add_argument("--format", nargs="+", choices=FORMATS, default=list(FORMATS), dest="formats")
    export.add_argument("--out", type=Path, required=True, help="output folder (new or empty)")
    which = export.add_mutually_exclusive_group()
    which.add_argument("--camera", metavar="NAME",
                       help="the camera to export from a bag with several: its image topic (/front/image), namespace "
                            "(/front) or name (front)")
    which.add_argument("--all-cameras", action="store_true",
                       help="export every camera into one dataset, a video per camera named after it")
    export.add_argument("--tracks-topic", help="InstanceMaskArray topic with the tracks (default: found by name); "
                        "its frames come from its camera's image topic")
    export.add_argument("--classes", nargs="+", metavar="NAME", help="label map (default: the bag's metadata)")
    export.add_argument("--video-name",
                        help="video name inside the dataset (image folder; default: 'video', or the camera's name when "
                             "the bag has several cameras)")
    export.add_argument("--no-images", action="store_true", help="do not write the frames as JPEGs")
    export.add_argument("--no-video", action="store_true", help="do not write overlay.mp4")
    export.add_argument("--fps", type=float, help="overlay video rate (default: from the stamps)")
    export.set_defaults(func=run_export)
    imp = sub.add_parser("import", help="video file or image folder -> camera bag (input for annotate-bag)")
    imp.add_argument("source", type=Path, help="video file (anything OpenCV's FFmpeg reads) or folder of images")
    imp.add_argument("--out", type=Path, required=True, help="bag folder to create")
    imp.add_argument("--fps", type=float, help="frame rate for the stamps (default: the video's own; 30 for folders)")
    imp.add_argument("--topic", default="/camera/image_raw", help="camera topic ('/compressed' is appended unless raw)")
    imp.add_argument("--encoding", choices=("jpeg", "png", "raw"), default="jpeg",
                     help="jpeg (small), png (lossless) or raw sensor_msgs/Image rgb8 (large)")
    imp.add_argument("--frame-id", default="camera")
    imp.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap")
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    imp.set_defaults(func=run_import)
    recover = sub.add_parser("recover", help="finish a bag whose recorder was killed")
    recover.add_argument("bag", type=Path)
    recover.set_defaults(func=run_recover)


def run_export(args: argparse.Namespace) -> int:
    from sam2auto_ros.export.from_bag import ONE_VIDEO_NAME, export_bag, select_cameras

    try:
        written = export_bag(args.bag, args.out, args.formats, tracks_topic=args.tracks_topic, camera=args.camera,
                             all_cameras=args.all_cameras, classes=args.classes, images=not args.no_images,
                             video=not args.no_video, fps=args.fps, video_name=args.video_name)
        cameras = select_cameras(args.bag, args.camera, args.tracks_topic, args.all_cameras)
    except (ExportError, BagError) as exc:
        print(f"sam2auto dataset export: error: {exc}", file=sys.stderr)
        return 2
    for camera in cameras:
        if camera.video_name != ONE_VIDEO_NAME:  # the bag has several cameras: say which were written
            print(f" camera: {camera.describe()}")
    for what, path in written.items():
        print(f"{what:>7}: {path}")
    return 0


def run_import(args: argparse.Namespace) -> int:
    from sam2auto_ros.io.video_import import VideoImportError, video_to_bag

    try:
        report = video_to_bag(args.source, args.out, fps=args.fps, topic=args.topic, encoding=args.encoding,
                              frame_id=args.frame_id, storage=args.storage, progress=not args.quiet)
    except (VideoImportError, BagError) as exc:
        print(f"sam2auto dataset import: error: {exc}", file=sys.stderr)
        return 2
    print(f"{report.bag}: {report.frames} frames {report.width}x{report.height} at {report.fps:g} fps on {report.topic}")
    if report.skipped:
        print(f"skipped {len(report.skipped)} unreadable image(s): {', '.join(report.skipped)}")
    print(f"next: sam2auto annotate-bag {report.bag} <annotated bag> --classes <names...>")
    return 0


def run_recover(args: argparse.Namespace) -> int:
    from sam2auto_ros.io.recovery import recover_bag

    try:
        report = recover_bag(args.bag)
    except BagError as exc:
        print(f"sam2auto dataset recover: error: {exc}", file=sys.stderr)
        return 2
    for split in report.splits:
        if split.state != "sound" or split.gaps:
            print(f"  {split.file}: {split.state}, {split.messages} messages")
        for gap in split.gaps:
            print(f"    not read: {gap.describe()}")
        if split.kept is not None:
            print(f"    original kept, unchanged: {split.kept}")
    if not report.complete:
        kept = sorted({str(s.kept.parent) for s in report.unrecovered if s.kept is not None})
        print(f"sam2auto dataset recover: error: {args.bag}: {len(report.unrecovered)} split(s) held bytes that could not "
              f"be read (listed above); the bag opens with the {report.messages} messages that could, "
              f"{report.recovered} of them recovered; the originals are kept in {', '.join(kept) or args.bag}",
              file=sys.stderr)
        return 2
    print(f"{args.bag}: complete, {report.messages} messages; {report.recovered} recovered from unfinished or damaged files")
    return 0
