"""Point the ROS 2 wheels' exported CMake files at this venv's Python and numpy headers.

The ``ros-*`` wheels on PyPI were built on a manylinux image, and a dozen of their CMake config
files still name that machine's ``/opt/python/cp3XX-cp3XX/...`` include directories, so a colcon
build of any message package fails until they are rewritten. Idempotent.
"""

from __future__ import annotations

import re
import sys
import sysconfig
from pathlib import Path

import numpy

PY_INCLUDE = re.compile(r"/opt/python/cp3\d+-cp3\d+/include/python3\.\d+t?")
NUMPY_INCLUDE = re.compile(r"/opt/python/cp3\d+-cp3\d+/lib/python3\.\d+/site-packages/numpy/(?:_)?core/include")


def fix(prefix: Path) -> list[Path]:
    py_include = sysconfig.get_paths()["include"]
    np_include = numpy.get_include()
    changed = []
    for path in sorted((prefix / "share").glob("*/cmake/*.cmake")):
        text = path.read_text()
        new = NUMPY_INCLUDE.sub(np_include, PY_INCLUDE.sub(py_include, text))
        if new != text:
            path.write_text(new)
            changed.append(path)
    return changed


if __name__ == "__main__":
    venv = Path(sys.argv[1] if len(sys.argv) > 1 else sys.prefix)
    for p in fix(venv):
        print(f"[setup] fixed wheel build paths in {p.relative_to(venv)}", file=sys.stderr)
