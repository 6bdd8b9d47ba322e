"""``sam2auto annotate-bag IN OUT``: label a recorded bag offline (SMART-OD + FLASH, no ROS runtime).

Writes a new bag: every input message unchanged, plus detections, tracks and an overlay under
``--output-ns``. The output appears only when complete (written under a scratch name, renamed).
Several cameras in one run (``--topic /front/image /rear/image`` or ``--all-cameras``): each is its
own sequence, written under ``--output-ns`` + its namespace (``/sam2auto/annotated/front/tracks``).
The overlay keeps the camera's transport (--overlay-format auto): JPEG CompressedImage on
``.../overlay/compressed`` for a CompressedImage camera, raw Image on ``.../overlay`` for a raw one.
Between the passes each camera's frames wait on disk next to OUT: compressed cameras as their
compressed payloads (about the size of the input topic), raw cameras as RGB.
Without SAM 2 / detector weights it runs the embedded weight-free default, which needs a
simulated recording (its ground truth stands in for the detector).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sam2auto_ros.annotate_bag import OUTPUT_NS, OVERLAY_FORMATS, AnnotateError, annotate_bag
from sam2auto_ros.cli import run_command
from sam2auto_ros.pipeline import BACKENDS, DEFAULT_MODEL, DETECTORS, Pipeline, PipelineError
from sam2auto_ros.sam2.registry import CheckpointError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("annotate-bag", help="annotate a recorded rosbag2 offline", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.set_defaults(func=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="recorded bag (directory with metadata.yaml; MCAP or sqlite3)")
    parser.add_argument("output", type=Path, help="new bag to write (must not exist)")
    add_options(parser)


def add_options(parser: argparse.ArgumentParser) -> None:
    """The model, class, camera and output options, shared with ``annotate-bags``."""
    parser.add_argument("--classes", nargs="+", default=[], metavar="NAME", help="class names to detect (the label map)")
    cameras = parser.add_mutually_exclusive_group()
    cameras.add_argument("--topic", nargs="+", action="extend", metavar="TOPIC",
                         help="camera topic(s) to label (Image or CompressedImage; --topic A B or --topic A --topic B); "
                         "needed when the bag has several. Put it after IN OUT: it takes every name that follows")
    cameras.add_argument("--all-cameras", action="store_true",
                         help="label every image topic of the bag (rendered .../overlay topics excepted)")
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap", help="output storage (default mcap)")
    parser.add_argument("--output-ns", default=OUTPUT_NS, help=f"namespace of the annotation topics (default {OUTPUT_NS})")
    parser.add_argument("--backend", choices=BACKENDS, default="auto", help="propagator: auto = SAM 2 when its checkpoint is found")
    parser.add_argument("--detector", choices=DETECTORS, default="auto", help="auto = SMART-OD when its weights are found")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="SAM 2 registry model name")
    parser.add_argument("--checkpoint", help="SAM 2 checkpoint file (default: registry look-up)")
    parser.add_argument("--models-dir", help="extra folder searched for model files")
    parser.add_argument("--image-size", type=int, help="SAM 2 input side in pixels (default: the model's)")
    parser.add_argument("--device", default="cpu", help="torch device")
    parser.add_argument("--smart-od-config", help="SMART-OD parameter file (config/smart_od.yaml layout: detector model...)")
    parser.add_argument("--truth-topic", help="ground truth for the weight-free detector, one camera only (default: "
                        "<camera namespace>/ground_truth, else any .../ground_truth)")
    parser.add_argument("--detect-every", type=int, default=1, metavar="N", help="run the detector on every N-th frame")
    parser.add_argument("--online", action="store_true", help="track as the live graph does (no hindsight)")
    parser.add_argument("--no-overlay", action="store_true", help="do not write the overlay image topic")
    parser.add_argument("--overlay-format", choices=OVERLAY_FORMATS, default="auto",
                        help="overlay transport: auto = as the camera (JPEG CompressedImage on .../overlay/compressed for a "
                        "CompressedImage camera, raw Image on .../overlay for a raw one); raw or jpeg force one for all")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weight-free detector's noise model")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def pipeline_options(args: argparse.Namespace) -> dict[str, Any]:
    """``Pipeline.create``'s keyword arguments from the options."""
    return {"classes": args.classes, "backend": args.backend, "detector": args.detector, "model": args.model,
            "models_dir": args.models_dir, "checkpoint": args.checkpoint, "image_size": args.image_size, "device": args.device,
            "seed": args.seed, "detect_every": args.detect_every, "smart_od_config": args.smart_od_config}


def annotate_options(args: argparse.Namespace) -> dict[str, Any]:
    """``annotate_bag``'s keyword arguments (cameras, outputs, mode) from the options."""
    return {"topic": args.topic, "all_cameras": args.all_cameras, "truth_topic": args.truth_topic, "storage": args.storage,
            "output_ns": args.output_ns, "overlay": not args.no_overlay, "overlay_format": args.overlay_format,
            "offline": not args.online}


def run(args: argparse.Namespace) -> int:
    try:
        pipeline = Pipeline.create(**pipeline_options(args))
        report = annotate_bag(args.input, args.output, pipeline, progress=not args.quiet, **annotate_options(args))
    except (AnnotateError, PipelineError, CheckpointError) as exc:
        print(f"sam2auto annotate-bag: error: {exc}", file=sys.stderr)
        return 2
    s = report.seconds
    print(f"wrote {report.output}: {report.messages_copied} input messages copied unchanged, {len(report.cameras)} "
          f"camera{'s' if len(report.cameras) > 1 else ''} labelled ({report.info['detector']} + FLASH on {report.info['backend']})")
    for camera in report.cameras:
        overlay = "" if args.no_overlay else f", overlay -> {camera.annotation_topics['overlay']}"
        print(f"  {camera.image_topic}: {camera.frames} frames, {camera.tracks} tracks -> {camera.annotation_topics['tracks']}{overlay}")
    print(f"time {s['total']:.1f} s: model {report.model_seconds:.1f} s, read/decode {s['read_decode']:.1f} s, "
          f"FLASH {s['flash']:.1f} s, overlay {s['overlay']:.1f} s, write {s['write']:.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``ros2 run sam2auto_ros annotate_bag IN OUT ...``: the same command as a package executable."""
    parser = argparse.ArgumentParser(prog="annotate_bag", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.func = run
    return run_command(args, "annotate_bag")


if __name__ == "__main__":
    sys.exit(main())
