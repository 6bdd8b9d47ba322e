"""``sam2auto eval``: tracking and segmentation metrics, printed as one table.

``sam2auto eval sim --tracker flash --preset mixed --seeds 0-4`` renders seeded simulator scenes,
feeds their frames and the noise model's detections to a tracker and scores it against the
scenes' per-pixel truth (mask IoU: HOTA, DetA, AssA, IDF1, IDSW, MOTA, J&F, mask AP).
``--tracker gt`` scores the truth itself (all perfect: a check of the harness),
``oracle-detections`` the noisy detections with their true ids.

``sam2auto eval dir GT_DIR PRED_DIR`` scores predictions on disk: one ``<name>.txt`` per sequence
in MOTChallenge box format (``frame,id,x,y,w,h,conf,...``; ground truth may also use the
MOTChallenge layout ``<name>/gt/gt.txt``) or MOTS format, or one ``<name>.json`` in YouTube-VIS
format (predictions may be the official results list), or one ``<name>/`` folder of DAVIS-style
indexed PNGs; MOTS and YouTube-VIS are what ``sam2auto dataset export`` writes. MOT is scored by
box IoU, the others by mask IoU.

``--report DIR`` also writes ``DIR/report.html``: the table, HOTA/IDF1 bars per sequence, an id
timeline per sequence (each ground-truth object coloured by the predicted id covering it, switches
and fragmentations marked) and the predicted scores' histogram with SMART-OD's threshold.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sam2auto_ros.eval import COLUMNS, RUNNERS, EvalError, EvalReport


def _seeds(text: str) -> list[int]:
    """``"0-4"`` or ``"1,5,9"`` (or a mix: ``"0-2,7"``)."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part.strip()[1:]:
                lo, hi = part.split("-", 1)
                seeds.extend(range(int(lo), int(hi) + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must look like 0-4 or 1,5,9, got {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError("no seeds given")
    return seeds


def _size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` -> ``(height, width)``."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 640x480, got {text!r}") from None
    return height, width


def register(subparsers: argparse._SubParsersAction) -> None:
    from sam2auto_ros.eval.readers import FORMATS
    from sam2auto_ros.sim import NOISE_PRESETS, SCENE_PRESETS

    parser = subparsers.add_parser("eval", help="score trackers (HOTA, IDF1, J&F, AP) on sim scenes or files",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="eval_command", required=True, metavar="SOURCE")
    sim = sub.add_parser("sim", help="run a tracker on seeded simulator scenes and score it")
    sim.add_argument("--tracker", default="flash", help=f"one of: {', '.join(RUNNERS)} (default flash)")
    sim.add_argument("--preset", default="mixed", choices=sorted(SCENE_PRESETS), help="scene preset (default mixed)")
    sim.add_argument("--seeds", type=_seeds, default=[0], help="scene seeds, e.g. 0-4 or 1,5,9 (default 0)")
    sim.add_argument("--frames", type=int, default=300, help="frames per scene (default 300)")
    sim.add_argument("--size", type=_size, default=(256, 256), help="frame size WIDTHxHEIGHT (default 256x256)")
    sim.add_argument("--noise", default="benchmark", choices=sorted(NOISE_PRESETS),
                     help="detector noise preset (default benchmark: 30%% misses in gaps <= 15 frames, 5%% FPs)")
    sim.set_defaults(func=run_sim)
    files = sub.add_parser("dir", help="score prediction files against ground-truth files")
    files.add_argument("gt_dir", type=Path, help="ground truth: <name>.txt, <name>/gt/gt.txt, <name>.json or <name>/*.png")
    files.add_argument("pred_dir", type=Path, help="predictions: <name>.txt, <name>.json or <name>/ per ground-truth sequence")
    files.add_argument("--format", choices=FORMATS, default="auto", help="file format (default: sniffed)")
    files.add_argument("--gt-min-confidence", type=float, help="drop ground-truth rows below this confidence "
                       "(MOTChallenge marks rows to ignore with 0; default keeps all)")
    files.set_defaults(func=run_dir)
    for p in (sim, files):
        p.add_argument("--no-jf", action="store_true", help="skip J&F (its boundary measure is the slowest part)")
        p.add_argument("--class-agnostic-ap", action="store_true", help="AP with every label as one class")
        p.add_argument("--json", type=Path, help="also write the table's numbers to this JSON file")
        p.add_argument("--report", type=Path, metavar="DIR", help="also write DIR/report.html with plots")


def _finish(report: EvalReport, args: argparse.Namespace, title: str, sequences: dict) -> int:
    print(title)
    print(report.table(COLUMNS))
    if args.report is not None:
        from sam2auto_ros.eval.report import write_report

        print(f"report: {write_report(args.report, sequences, report, title)}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        rows = {name: {k: (None if v != v else v) for k, v in row.items()} for name, row in report.rows.items()}
        args.json.write_text(json.dumps({"similarity": report.similarity, "rows": rows}, indent=2))
    return 0


def run_sim(args: argparse.Namespace) -> int:
    from sam2auto_ros.eval import evaluate
    from sam2auto_ros.eval.sim_eval import sim_sequences

    if args.frames < 1:
        print("sam2auto eval sim: error: --frames must be >= 1", file=sys.stderr)
        return 2
    height, width = args.size
    try:
        sequences = sim_sequences(args.tracker, args.preset, args.seeds, args.noise, n_frames=args.frames,
                                  height=height, width=width)
        report = evaluate(sequences, "mask", class_agnostic_ap=args.class_agnostic_ap, with_jf=not args.no_jf)
    except (EvalError, ValueError) as exc:
        print(f"sam2auto eval sim: error: {exc}", file=sys.stderr)
        return 2
    title = (f"tracker {args.tracker} on {len(args.seeds)} '{args.preset}' scene(s) of {args.frames} frames "
             f"at {width}x{height}, detector noise '{args.noise}' (mask IoU)")
    return _finish(report, args, title, sequences)


def run_dir(args: argparse.Namespace) -> int:
    from sam2auto_ros.eval import evaluate, read_sequence_dirs

    try:
        pairs, similarity = read_sequence_dirs(args.gt_dir, args.pred_dir, args.format, args.gt_min_confidence)
        report = evaluate(pairs, similarity, class_agnostic_ap=args.class_agnostic_ap, with_jf=not args.no_jf)
    except EvalError as exc:
        print(f"sam2auto eval dir: error: {exc}", file=sys.stderr)
        return 2
    return _finish(report, args, f"{args.pred_dir} vs {args.gt_dir}: {len(pairs)} sequence(s), {similarity} IoU", pairs)
