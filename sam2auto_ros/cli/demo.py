"""``sam2auto demo``: the whole mission on an embedded default, no weights or internet needed.

A seeded simulated scene is recorded as a camera rosbag (with its ground truth), annotated
offline (SMART-OD + FLASH: with SAM 2 / detector weights when they are installed, otherwise
the weight-free optical-flow propagator and the simulator's detector noise model), exported as
COCO / YouTube-VIS / MOTS / MOT plus an overlay video, and scored against the ground truth.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from sam2auto_ros.annotate_bag import AnnotateError, annotate_bag, record_scene_bag
from sam2auto_ros.eval import evaluate
from sam2auto_ros.export.from_bag import export_bag, load_tracks
from sam2auto_ros.pipeline import Pipeline, PipelineError
from sam2auto_ros.sim import CLASS_NAMES, SCENE_PRESETS, make_scene

SHOWN_COLUMNS = ("HOTA", "DetA", "AssA", "IDF1", "IDSW", "MOTA", "J&F", "AP")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run the embedded demo (sim scene -> bag -> annotate -> export -> metrics)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="parent folder of the run's outputs")
    parser.add_argument("--scene", choices=sorted(SCENE_PRESETS), default="mixed", help="simulated scene preset")
    parser.add_argument("--frames", type=int, default=120, help="frames to simulate")
    parser.add_argument("--size", type=int, nargs=2, default=(256, 256), metavar=("H", "W"), help="frame size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    run_dir = args.out / time.strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=False)
    height, width = args.size
    scene = make_scene(args.scene, seed=args.seed, n_frames=args.frames, height=height, width=width)
    classes = sorted({obj.label for obj in scene.objects} & set(CLASS_NAMES))

    started = time.perf_counter()
    recorded = record_scene_bag(
        scene.frames(), run_dir / "recorded",
        custom_data={"classes": json.dumps(classes), "sim.scene": args.scene, "sim.seed": str(args.seed)},
    )
    try:
        pipeline = Pipeline.create(classes, seed=args.seed)
        report = annotate_bag(recorded, run_dir / "annotated", pipeline, classes=classes, progress=not args.quiet)
    except (AnnotateError, PipelineError) as exc:
        print(f"demo failed: {exc}")
        return 1
    written = export_bag(report.output, run_dir / "dataset")
    elapsed = time.perf_counter() - started

    truth = [frame.gt for frame in scene.frames()]
    tracks = load_tracks(report.output).frames
    scores = evaluate({args.scene: (truth, tracks)})
    used = pipeline.describe()

    print(f"\nsam2auto demo: scene '{args.scene}' (seed {args.seed}), {len(truth)} frames of {width}x{height}, "
          f"{elapsed:.1f} s end to end")
    print("pipeline: " + ", ".join(f"{k}={v}" for k, v in used.items() if not isinstance(v, (dict, list))))
    print(f"\nscores against the simulator's ground truth ({report.tracks} tracks):\n")
    print(scores.table(SHOWN_COLUMNS))
    print("\noutputs:")
    print(f"  recorded bag   {recorded}")
    print(f"  annotated bag  {report.output}  (topics: {', '.join(sorted(report.topics))})")
    for name, path in written.items():
        print(f"  {name:<14} {path}")
    return 0
