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

from hypothesis import HealthCheck, settings

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
