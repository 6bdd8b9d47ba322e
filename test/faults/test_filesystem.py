"""A read-only folder, a full disk and two runs on one output, for annotate-bag, dataset export and
dataset import: exit code 2 with one line naming the path and the cause, the input unchanged, nothing
at OUT and no scratch or lock file left.

The read-only folder and the full disk are real filesystems (a read-only tmpfs, a 16 KiB tmpfs) in a
private mount namespace where the machine allows one (``unshare -m``: root, or user namespaces).
Elsewhere ``fs_cases --inject`` stands in for them (EROFS on every write under the folder, a 1 KiB
file size limit for the disk: EFBIG, "file too large"); the assertions are the same.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sam2auto_ros.cli import main
from sam2auto_ros.io.outputs import lock_path
from test.faults.conftest import checksums, error_lines, leftovers, make_inputs

ROOT = Path(__file__).resolve().parents[2]
DISK = 16 * 1024
FILE_LIMIT = 1024  # injected stand-in for the full disk: any file past 1 KiB (every command writes one)
CAUSES = {"readonly": "read-only file system", "full": ("no space left on the device", "file too large")}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    return make_inputs(tmp_path_factory.mktemp("fs-inputs"), (96, 128), frames=6, images=40)


def _commands(inputs: dict[str, Path], out: Path) -> dict[str, list[str]]:
    return {
        "annotate-bag": ["annotate-bag", str(inputs["bag"]), str(out), "--quiet"],
        "export": ["dataset", "export", str(inputs["labelled"]), "--out", str(out)],
        "import": ["dataset", "import", str(inputs["frames"]), "--out", str(out), "--quiet"],
    }


def _run_cases(spec: dict, tmp_path: Path) -> list[dict]:
    """Run the cases in a mount namespace with the two filesystems, else with them injected."""
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    runner = [sys.executable, "-m", "test.faults.fs_cases", str(spec_file)]
    mounts = (f"mount -t tmpfs -o size={DISK} tmpfs {spec['full']} && mount -t tmpfs -o ro,size={DISK} tmpfs "
              f"{spec['readonly']} && echo MOUNTED >&2 && exec \"$@\"")
    proc = subprocess.run(["unshare", "-m", "sh", "-c", mounts, "sh", *runner], cwd=ROOT, capture_output=True, text=True,
                          timeout=300) if shutil.which("unshare") else None
    if proc is None or "MOUNTED" not in proc.stderr:
        proc = subprocess.run([*runner, "--inject"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_read_only_folders_and_a_full_disk_end_in_one_line_with_nothing_written(inputs, tmp_path):
    readonly, full = tmp_path / "readonly", tmp_path / "full"
    readonly.mkdir()
    full.mkdir()
    cases, expected = [], []
    for fault, folder in (("readonly", readonly), ("full", full)):
        for name, argv in _commands(inputs, folder / "out").items():
            cases.append(argv)
            expected.append((fault, name, folder / "out"))
    before = {name: checksums(path) for name, path in inputs.items()}
    results = _run_cases({"cases": cases, "readonly": str(readonly), "full": str(full), "limit": FILE_LIMIT}, tmp_path)
    for (fault, name, out), result in zip(expected, results):
        lines = error_lines(result["err"])
        assert result["code"] == 2 and len(lines) == 1 and "Traceback" not in result["err"], (fault, name, result)
        line = lines[0]
        assert line.startswith("sam2auto ") and f"cannot write {out}" in line, (fault, name, line)
        assert any(cause in line for cause in np.atleast_1d(CAUSES[fault])), (fault, name, line)
    # the namespace is gone: what the commands left is in the plain folders underneath, or (injected) here
    for folder in (readonly, full):
        assert not (folder / "out").exists() and leftovers(folder, "out") == []
    assert {name: checksums(path) for name, path in inputs.items()} == before


def test_two_runs_on_one_output_the_second_stops_at_once_and_the_first_finishes(inputs, tmp_path, capsys):
    out = tmp_path / "imported"
    first = subprocess.Popen([sys.executable, "-m", "sam2auto_ros.cli", "dataset", "import", str(inputs["frames"]),
                              "--out", str(out), "--quiet"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not lock_path(out).exists() or not lock_path(out).read_text().strip():
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.01)
        os.kill(first.pid, signal.SIGSTOP)  # hold the first run inside its write
        assert main(["dataset", "import", str(inputs["frames"]), "--out", str(out), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert error_lines(err) == [f"sam2auto dataset import: error: {out} is being written by another run "
                                    f"(pid {first.pid}, lock {lock_path(out)}); wait for it to finish or choose another output"]
    finally:
        os.kill(first.pid, signal.SIGCONT)
    stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    assert b"40 frames 128x96" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["imported.mcap", "metadata.yaml"]
    assert leftovers(tmp_path, "imported") == []
