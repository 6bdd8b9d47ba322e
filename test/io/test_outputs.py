"""Staged outputs: whole or nothing, one run per output, scratch of killed runs removed, signals as Ctrl-C."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import subprocess
import sys

import pytest

from sam2auto_ros.cli import run_command
from sam2auto_ros.io.outputs import (
    Interrupted,
    OutputError,
    RunLock,
    lock_path,
    output_error,
    scratch_owner,
    staged_output,
    terminate_like_interrupt,
)


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_output_appears_only_when_complete(tmp_path):
    target = tmp_path / "deep" / "out"
    with staged_output(target) as stage:
        stage.path.mkdir()
        (stage.path / "a.txt").write_text("a")
        assert not target.exists() and scratch_owner(stage.scratch) == "out"
    assert (target / "a.txt").read_text() == "a"
    assert _leftovers(target.parent) == ["out"]  # no scratch, no lock file


def test_a_failure_leaves_nothing_not_even_the_folders_made_for_it(tmp_path):
    target = tmp_path / "made" / "for" / "out"
    with pytest.raises(ValueError, match="boom"), staged_output(target) as stage:
        stage.path.mkdir()
        raise ValueError("boom")
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_sigterm_and_sighup_end_a_command_as_ctrl_c_does(tmp_path, signum, capsys):
    target = tmp_path / "out"
    before = signal.getsignal(signal.SIGTERM)

    def command(args):
        with staged_output(target) as stage:
            stage.path.write_text("half")
            os.kill(os.getpid(), signum)
            raise AssertionError("the signal did not stop the command")

    code = run_command(argparse.Namespace(func=command), "sam2auto test")
    assert code == 128 + signum
    assert f"interrupted ({signal.Signals(signum).name})" in capsys.readouterr().err
    assert _leftovers(tmp_path) == []
    assert signal.getsignal(signal.SIGTERM) == before


def test_handlers_are_restored_after_the_block():
    before = signal.getsignal(signal.SIGTERM)
    with terminate_like_interrupt(), pytest.raises(Interrupted):
        os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_second_run_on_the_same_output_is_refused_and_touches_nothing(tmp_path):
    target = tmp_path / "out"
    with staged_output(target) as first:
        first.path.write_text("first")
        with pytest.raises(OutputError, match=rf"{target} is being written by another run \(pid {os.getpid()}"), \
                staged_output(target):
            pass
        assert first.scratch.exists()
    assert target.read_text() == "first"


def test_the_lock_dies_with_its_holder(tmp_path):
    """A run killed with SIGKILL holds no lock: the next run goes ahead and removes its scratch."""
    target = tmp_path / "out"
    code = ("import os, sys; from pathlib import Path; from sam2auto_ros.io.outputs import staged_output\n"
            "with staged_output(Path(sys.argv[1])) as stage:\n"
            "    stage.path.write_bytes(b'x' * 4096); print(os.getpid(), flush=True); os.kill(os.getpid(), 9)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert [p.name for p in tmp_path.iterdir() if scratch_owner(p) == "out"] == [f".out.partial-{proc.stdout.strip()}"]
    assert lock_path(target).exists()
    with RunLock(target):  # nobody holds it any more
        pass


def test_scratch_of_killed_runs_is_reported_and_removed(tmp_path, caplog):
    dead_same = tmp_path / ".out.partial-123"  # an earlier run on this output
    dead_other = tmp_path / ".other.partial-456"  # a killed run on another output in the same folder
    alive = tmp_path / ".busy.partial-789"  # a live run: its lock is held
    for folder in (dead_same, dead_other, alive):
        folder.mkdir()
        (folder / "data").write_bytes(b"x" * 1000)
    unrelated = tmp_path / ".hidden"
    unrelated.mkdir()
    with RunLock(tmp_path / "busy"), caplog.at_level(logging.WARNING), staged_output(tmp_path / "out") as stage:
        stage.path.write_text("new")
    assert not dead_same.exists() and not dead_other.exists()
    assert alive.exists() and unrelated.exists()
    removed = [r.getMessage() for r in caplog.records if "scratch left by a killed run" in r.getMessage()]
    assert len(removed) == 2 and all("0.0 MB" in m for m in removed)


def test_filesystem_errors_become_one_line_naming_the_path_and_the_cause(tmp_path):
    target = tmp_path / "out"
    scratch = tmp_path / ".out.partial-1"
    full = output_error(OSError(errno.ENOSPC, "No space left on device", str(scratch / "out" / "x.mcap")), target, scratch)
    assert full is not None and "\n" not in str(full)
    assert str(full) == f"cannot write {target}: no space left on the device (at {scratch}/out/x.mcap); free some space or write elsewhere"
    readonly = output_error(OSError(errno.EROFS, "Read-only file system"), target)
    assert readonly is not None and "read-only file system" in str(readonly)
    # not a write of this output: left as it is
    assert output_error(OSError(errno.EACCES, "Permission denied", "/elsewhere/input.mcap"), target) is None
    assert output_error(FileNotFoundError(errno.ENOENT, "No such file", str(target)), target) is None
    assert output_error(ValueError("not a filesystem error"), target) is None
