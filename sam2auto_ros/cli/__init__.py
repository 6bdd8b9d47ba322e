"""The ``sam2auto`` command.

Each subcommand lives in its own module of this package and exposes
``register(subparsers) -> None``; the module list below is the only shared line.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

SUBCOMMAND_MODULES = ("demo", "annotate_bag", "annotate_bags", "dataset", "launch", "export", "models", "eval", "view")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sam2auto", description="Fully automatic video annotation for robots: SAM 2 masks, SMART-OD detection, FLASH tracking."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    name = " ".join(["sam2auto", args.command, *([args.dataset_command] if args.command == "dataset" else [])])
    return run_command(args, name)


def run_command(args: argparse.Namespace, name: str) -> int:
    """Run ``args.func``: SIGTERM and SIGHUP end it as Ctrl-C does (its clean-up runs, exit 128 + signal),
    and an output that cannot be written is one line with exit code 2, whatever the command."""
    from sam2auto_ros.io.outputs import OutputError, interrupt_exit_code, terminate_like_interrupt

    try:
        with terminate_like_interrupt():
            return int(args.func(args) or 0)
    except KeyboardInterrupt as exc:
        print(f"{name}: interrupted ({str(exc) or 'SIGINT'}); nothing was left half-written", file=sys.stderr)
        return interrupt_exit_code(exc)
    except OutputError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
