"""``sam2auto view``: look at a labelled bag or the live graph in Foxglove, with no ROS tools.

``sam2auto view BAG`` serves a Foxglove WebSocket on 127.0.0.1:8765 and, once Foxglove connects
(Open connection -> Foxglove WebSocket -> ws://127.0.0.1:8765), plays the bag's camera at its own
rate (``--rate 2`` for twice as fast) with its tracks: the masks as outlines with "id label score"
(``/sam2auto/view/tracks_annotations``, shown over ``/sam2auto/view/image/compressed`` in an Image
panel) and the track list (``/sam2auto/view/tracks``). A bag without tracks shows the camera and
says so. ``sam2auto view --live [--namespace /sam2auto] [--compressed]`` shows the running graph's
``image`` and ``tracks`` instead. ``--host 0.0.0.0`` serves other machines too (loopback by default).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    from sam2auto_ros.view.server import DEFAULT_PORT

    parser = subparsers.add_parser("view", help="Foxglove viewer: a labelled bag or live topics, masks and ids drawn",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bag", type=Path, nargs="?", help="labelled (or camera-only) bag to play")
    parser.add_argument("--live", action="store_true", help="show the live topics instead of a bag")
    parser.add_argument("--namespace", default="/sam2auto", help="live: where image and tracks are (default /sam2auto)")
    parser.add_argument("--compressed", action="store_true", help="live: read image/compressed")
    parser.add_argument("--camera", help="bag: the camera to show when it has several (topic, namespace or name)")
    parser.add_argument("--rate", type=float, default=1.0, help="bag: playback speed, 1 = the bag's own rate")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default: loopback only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free one)")
    parser.add_argument("--no-wait", action="store_true", help="bag: play at once instead of waiting for a viewer")
    parser.set_defaults(func=run)


def _error(text: str) -> int:
    print(f"sam2auto view: error: {text}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from sam2auto_ros.view.bag import choose_topics, play_bag
    from sam2auto_ros.view.server import Viewer, ViewerError

    if (args.bag is None) == (not args.live):
        return _error("give a bag to play or --live, one of the two")
    if args.rate < 0:
        return _error(f"--rate must be >= 0, got {args.rate}")
    stop = threading.Event()

    def on_signal(*_: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        view = choose_topics(args.bag, args.camera) if args.bag is not None else None
        with Viewer(args.host, args.port) as viewer:
            print(f"serving Foxglove on {viewer.url} (Ctrl-C to stop)", flush=True)
            if view is None:
                try:
                    from sam2auto_ros.ros.view_source import run_live
                except ImportError as exc:
                    return _error(f"--live needs rclpy and the project's messages ({exc}); run scripts/setup.sh or "
                                  "source your ROS 2 install")
                run_live(viewer, args.namespace, args.compressed, stop)
                return 0
            if view.tracks_topic is None:
                print(f"note: {args.bag} has no tracks; showing the camera {view.image_topic} only", file=sys.stderr)
            while not args.no_wait and not stop.is_set() and not viewer.wait_for_subscribers(timeout=0.2):
                pass
            shown = play_bag(viewer, args.bag, view, args.rate, stop)
            print(f"played {shown} frames of {view.image_topic}; Ctrl-C to stop serving", flush=True)
            stop.wait()
    except ViewerError as exc:
        return _error(str(exc))
    return 0
