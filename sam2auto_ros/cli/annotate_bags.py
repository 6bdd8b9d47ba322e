"""``sam2auto annotate-bags INPUT... --out DIR``: annotate a fleet's bags over the workers of a Ray cluster.

An INPUT is a bag or a folder searched for bags; each bag becomes ``DIR/<its path below the input
folder>`` (a bag named directly: ``DIR/<its name>``), exactly as ``annotate-bag`` would write it.
Without --address a local Ray is started, bound to loopback, no dashboard, no usage reporting;
``--address auto`` joins this machine's cluster, ``ray://HOST:PORT`` a remote one (the inputs and DIR
must then be at the same paths on every node). One task per camera of a bag; each worker loads the
models once. Outputs appear whole or not at all; ``DIR/manifest.json`` records every input (size,
mtime, content hash, status, output, timings, error) and ``--resume`` redoes nothing that is done.
``--split-long S`` cuts cameras longer than S seconds into segments overlapping by ``--overlap``,
tracked in parallel and joined by mask IoU at each seam.

Exit code: 0 when every bag is done, 1 when some failed (listed, with their errors), 2 when the run
could not start.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sam2auto_ros.cli.annotate_bag import add_options, annotate_options, pipeline_options
from sam2auto_ros.fleet.cluster import ClusterError
from sam2auto_ros.fleet.manifest import ManifestError
from sam2auto_ros.fleet.plan import DEFAULT_OVERLAP_S, PlanError
from sam2auto_ros.fleet.run import DEFAULT_RETRIES, FleetReport, annotate_bags
from sam2auto_ros.pipeline import PipelineError
from sam2auto_ros.sam2.registry import CheckpointError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("annotate-bags", help="annotate many bags over a Ray cluster (local or remote)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", type=Path, nargs="+", metavar="INPUT", help="bag, or folder searched for bags")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (one bag per input, and manifest.json)")
    parser.add_argument("--address", help="Ray cluster to join: auto, or ray://HOST:PORT (default: start a local one on loopback)")
    parser.add_argument("--workers", type=int, default=2, metavar="N", help="worker actors, each loading the models once (default 2)")
    parser.add_argument("--gpus-per-worker", type=float, default=0.0, metavar="G", help="GPUs each worker reserves (default 0)")
    parser.add_argument("--cpus-per-worker", type=float, default=1.0, metavar="C", help="CPUs each worker reserves (and its threads; default 1)")
    parser.add_argument("--retries", type=int, default=DEFAULT_RETRIES, metavar="R",
                        help=f"times a task whose worker failed is handed out again (default {DEFAULT_RETRIES}); an input's "
                        "own error (a corrupt bag) fails its bag at once")
    parser.add_argument("--resume", action="store_true", help="finish the run recorded in DIR/manifest.json: skip what is done")
    parser.add_argument("--split-long", type=float, metavar="SECONDS",
                        help="cut cameras longer than this into segments tracked in parallel, ids joined at the seams")
    parser.add_argument("--overlap", type=float, default=DEFAULT_OVERLAP_S, metavar="SECONDS",
                        help=f"overlap of neighbouring segments with --split-long (default {DEFAULT_OVERLAP_S})")
    add_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        report = annotate_bags(
            args.inputs, args.out, pipeline_options(args), address=args.address, workers=args.workers,
            gpus_per_worker=args.gpus_per_worker, cpus_per_worker=args.cpus_per_worker, retries=args.retries,
            split_long=args.split_long, overlap=args.overlap, resume=args.resume, progress=not args.quiet,
            **annotate_options(args),
        )
    except (PlanError, ClusterError, ManifestError, PipelineError, CheckpointError) as exc:
        print(f"sam2auto annotate-bags: error: {exc}", file=sys.stderr)
        return 2
    print_summary(report)
    return 1 if report.failed else 0


def print_summary(report: FleetReport, console: Console | None = None) -> None:
    """One row per input, then the totals and where the time went."""
    console = console or Console(soft_wrap=True)
    table = Table(title="annotate-bags")
    for column in ("bag", "status", "frames", "tracks", "attempts", "seconds", "output / error"):
        table.add_column(column, justify="right" if column in ("frames", "tracks", "attempts", "seconds") else "left")
    for o in report.outcomes:
        style = {"failed": "red", "pending": "yellow"}.get(o.status)
        table.add_row(o.name, o.status, str(o.frames), str(o.tracks), str(o.attempts), f"{o.seconds:.1f}",
                      o.error or str(o.output or ""), style=style)
    console.print(table)
    counts = {status: sum(o.status == status for o in report.outcomes) for status in ("done", "skipped", "failed", "pending")}
    s = report.seconds
    frames = sum(o.frames for o in report.outcomes if o.status == "done")
    rate = f", {frames / s['total']:.1f} frames/s" if s.get("total") else ""
    console.print(", ".join(f"{n} {status}" for status, n in counts.items() if n) + f" of {len(report.outcomes)} bags{rate}; "
                  f"Ray start {s.get('ray_start', 0.0):.1f} s, workers ready (models loaded) after "
                  f"{s.get('workers_ready', 0.0):.1f} s, total {s.get('total', 0.0):.1f} s"
                  + (f"; {report.seams} seams joined" if report.seams else ""))
