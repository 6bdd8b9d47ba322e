"""What a section of the device check reads and writes; ``device_check.sh`` assembles the table.

A section is a script ``benchmarks/device/NN_name.py`` (or ``.sh``), run in name order. It reads
its setting from the environment ``device_check.sh`` gives it and adds rows with :func:`row`:

* ``DEVICE_CHECK_DEVICE``: ``cuda`` on the GPU, ``cpu`` in the dry run;
* ``DEVICE_CHECK_DRY``: ``1`` in the dry run (small sizes: the run checks the path, not the figures);
* ``DEVICE_CHECK_WORK``: a scratch folder shared by the sections (random checkpoints, exports);
* ``DEVICE_CHECK_ROWS``: the file rows go to (one JSON list per line);
* ``DEVICE_CHECK_SECTION``: the section's name (its file name without the extension).

A shell section adds rows with ``"$DEVICE_CHECK_PY" -m section --row CHECK SETTING VALUE [NOTE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

COLUMNS = ("section", "check", "setting", "value", "note")


def device() -> str:
    return os.environ.get("DEVICE_CHECK_DEVICE", "cpu")


def dry() -> bool:
    return os.environ.get("DEVICE_CHECK_DRY", "1") == "1"


def work() -> Path:
    path = Path(os.environ.get("DEVICE_CHECK_WORK", "/tmp/device_check"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def random_checkpoint(image_size: int, model: str = "sam2.1_hiera_tiny") -> Path:
    """Random SAM 2 weights saved in the released checkpoint format, once per size for all sections."""
    from sam2auto_ros.sam2.loading import save_random_checkpoint
    from sam2auto_ros.sam2.registry import checkpoint_info

    info = checkpoint_info(model)
    path = work() / f"{image_size}px" / info.filename
    if not path.exists():
        save_random_checkpoint(path, info.config, image_size=image_size, seed=0)
    return path


def synchronize() -> None:
    """Wait for the device (so a wall-clock time covers the work, not its launch)."""
    import torch

    if device() == "cuda":
        torch.cuda.synchronize()


def row(check: str, setting: str, value: str, note: str = "") -> None:
    """One line of the table (printed too, so a section's log shows what it found)."""
    cells = [os.environ.get("DEVICE_CHECK_SECTION", Path(sys.argv[0]).stem), check, setting, value, note]
    print(" | ".join(cells), flush=True)
    rows = os.environ.get("DEVICE_CHECK_ROWS")
    if rows:
        with open(rows, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(cells) + "\n")


def assemble(rows: Path, title: str) -> str:
    """The rows of every section as one markdown table under ``title``."""
    lines = [title, "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for line in rows.read_text(encoding="utf-8").splitlines() if rows.exists() else []:
        cells = [str(c).replace("|", "/").replace("\n", " ") for c in json.loads(line)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--row", nargs="+", metavar="CELL", help="CHECK SETTING VALUE [NOTE]: add one row")
    parser.add_argument("--assemble", type=Path, metavar="ROWS", help="print the table of a rows file")
    parser.add_argument("--title", default="")
    args = parser.parse_args()
    if args.row:
        if not 3 <= len(args.row) <= 4:
            parser.error("--row takes CHECK SETTING VALUE [NOTE]")
        row(*args.row)
    if args.assemble:
        sys.stdout.write(assemble(args.assemble, args.title))
    return 0


if __name__ == "__main__":
    sys.exit(main())
