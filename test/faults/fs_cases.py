"""Run ``sam2auto`` commands in one process and print each one's exit code and stderr as JSON.

``python -m test.faults.fs_cases SPEC.json [--inject]``: SPEC holds ``{"cases": [[argv...], ...],
"readonly": DIR, "full": DIR}``. Run inside a mount namespace where ``full`` is a tiny tmpfs and
``readonly`` a read-only one (the test sets them up). Where the machine allows no mount namespace,
``--inject`` stands in for the two filesystems: writes under ``readonly`` fail with EROFS (every file
or folder creation the commands make goes through open/os.open/os.mkdir), and a file size limit
(RLIMIT_FSIZE) makes a write past a few kilobytes fail with EFBIG, as a full disk fails a write.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import io
import json
import os
import resource
import signal
import sys
from pathlib import Path


def _inject(readonly: str, limit: int) -> None:
    def refuse(path: object) -> None:
        if str(os.fspath(path)).startswith(readonly):  # type: ignore[arg-type]
            raise OSError(errno.EROFS, "Read-only file system", str(path))

    real_open, real_os_open, real_mkdir = builtins.open, os.open, os.mkdir

    def checked_open(file, mode="r", *args, **kwargs):  # type: ignore[no-untyped-def]
        if any(m in mode for m in "wax+"):
            refuse(file)
        return real_open(file, mode, *args, **kwargs)

    def checked_os_open(path, flags, *args, **kwargs):  # type: ignore[no-untyped-def]
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            refuse(path)
        return real_os_open(path, flags, *args, **kwargs)

    def checked_mkdir(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        refuse(path)
        return real_mkdir(path, *args, **kwargs)

    builtins.open, os.open, os.mkdir = checked_open, checked_os_open, checked_mkdir  # type: ignore[assignment]
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    results = []
    from sam2auto_ros.cli import main as cli_main

    if "--inject" in sys.argv:
        _inject(spec["readonly"], spec["limit"])
    for argv in spec["cases"]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli_main(argv)
        results.append({"argv": argv, "code": code, "out": out.getvalue(), "err": err.getvalue()})
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
