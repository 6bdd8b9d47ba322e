"""The fault-injection suite: hypothesis draws where a bag is cut or its bytes flipped, when a signal
lands, which filesystem fault strikes. Every case asserts the same contract: success, or exit code 2
(128 + signal when interrupted) with one line naming the problem; input checksums unchanged; nothing
half-written at OUT; no scratch left behind; for ``recover``, no message that was readable before lost.

Profiles (``SAM2AUTO_FAULT_PROFILE``): ``ci`` (default) draws a few examples per property,
derandomized so every CI run tries the same cases; ``deep`` draws many, with a fresh seed each run.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import cv2
import numpy as np
from hypothesis import HealthCheck, settings

from sam2auto_ros.annotate_bag import record_scene_bag
from sam2auto_ros.cli import main
from sam2auto_ros.sim import make_scene

_SUPPRESSED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("ci", max_examples=6, deadline=None, derandomize=True, database=None,
                          suppress_health_check=_SUPPRESSED, print_blob=True)
settings.register_profile("deep", max_examples=150, deadline=None, database=None, suppress_health_check=_SUPPRESSED,
                          print_blob=True)
settings.load_profile(os.environ.get("SAM2AUTO_FAULT_PROFILE", "ci"))


def checksums(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (relative path -> digest)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def leftovers(folder: Path, name: str) -> list[str]:
    """Scratch or lock files of output ``name`` left in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{name}."))


def error_lines(err: str) -> list[str]:
    """stderr without the informational log lines (model fall-backs and the like)."""
    return [line for line in err.splitlines() if line.strip() and not line.startswith(("INFO ", "WARNING "))]


def make_inputs(root: Path, size: tuple[int, int], frames: int, images: int) -> dict[str, Path]:
    """The commands' inputs: a simulated camera bag, that bag labelled, and a folder of noise images
    (noise compresses badly, so an import of it is far bigger than a small disk)."""
    bag = record_scene_bag(make_scene("crossing", seed=6, n_frames=frames, height=size[0], width=size[1]).frames(),
                           root / "sim")
    labelled = root / "labelled"
    assert main(["annotate-bag", str(bag), str(labelled), "--quiet"]) == 0
    folder = root / "frames"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(images):
        cv2.imwrite(str(folder / f"{i:03d}.png"), rng.integers(0, 255, (*size, 3), dtype=np.uint8))
    return {"bag": bag, "labelled": labelled, "frames": folder}
