"""SIGINT, SIGTERM or SIGHUP at a random point of ``annotate-bag``, ``dataset export``, ``dataset import``
and ``dataset recover``: the command ends as on Ctrl-C (exit 128 + signal) with nothing at OUT, no
scratch, no lock file and the input unchanged, or, when the signal comes after the work, it succeeds.

The point is drawn as the n-th Python call of the run (counted by ``sys.setprofile``), so a drawn case
replays exactly; the signal itself is real (``os.kill`` of this process) and goes through the
command's own handlers.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sam2auto_ros.cli import main
from sam2auto_ros.io.bags import read_messages
from test.faults.conftest import checksums, error_lines, leftovers, make_inputs
from test.io.test_recovery import killed_recording

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def signal_at_call(at: int, signum: int) -> Iterator[list[int]]:
    """Send ``signum`` to this process at the ``at``-th Python call of this thread counted from the
    command's start (``run_command``, after the arguments are parsed); yields the call count. A signal
    landing after the command's own handlers are gone is recorded, not acted on."""
    calls = [0]
    started = [False]

    def profile(frame: Any, event: str, arg: object) -> None:
        if event != "call":
            return
        if not started[0]:
            started[0] = frame.f_code.co_name == "run_command"
            return
        calls[0] += 1
        if calls[0] == at:
            os.kill(os.getpid(), signum)

    late: list[int] = []
    previous = {s: signal.signal(s, lambda n, f: late.append(n)) for s in SIGNALS}
    sys.setprofile(profile)
    try:
        yield calls
    finally:
        sys.setprofile(None)
        for s, handler in previous.items():
            signal.signal(s, handler)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("signals")
    return {**make_inputs(root, (48, 64), frames=6, images=6), "recording": killed_recording(root / "rec", "mcap")}


COMMANDS: dict[str, Callable[[dict[str, Path], Path], list[str]]] = {
    "annotate-bag": lambda i, out: ["annotate-bag", str(i["bag"]), str(out), "--quiet"],
    "export": lambda i, out: ["dataset", "export", str(i["labelled"]), "--out", str(out)],
    "import": lambda i, out: ["dataset", "import", str(i["frames"]), "--out", str(out), "--quiet"],
}


def _outcome(path: Path) -> object:
    """What a finished output holds, to compare with an uninterrupted run."""
    if (path / "metadata.yaml").exists():
        return [(m.topic, m.timestamp_ns) for m in read_messages(path)]
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@pytest.fixture(scope="module")
def clean_runs(inputs, tmp_path_factory) -> dict[str, tuple[int, object]]:
    """Each command run once without a signal: its Python call count and what it writes."""
    runs = {}
    for name, argv in COMMANDS.items():
        out = tmp_path_factory.mktemp(f"clean-{name}") / "out"
        main(argv(inputs, out))  # warm: first-use imports would shift the count
        out2 = out.with_name("out2")
        with signal_at_call(0, signal.SIGTERM) as calls:
            assert main(argv(inputs, out2)) == 0
        runs[name] = (calls[0], _outcome(out2))
    return runs


@given(command=st.sampled_from(sorted(COMMANDS)), point=st.floats(0, 1), signum=st.sampled_from(SIGNALS))
def test_a_signal_anywhere_leaves_the_output_whole_or_absent(inputs, clean_runs, tmp_path_factory, capsys, command, point,
                                                              signum):
    total, expected = clean_runs[command]
    work = tmp_path_factory.mktemp("run")
    out = work / "out"
    before = {name: checksums(path) for name, path in inputs.items() if name != "recording"}
    with signal_at_call(max(1, int(point * total)), signum):
        code = main(COMMANDS[command](inputs, out))
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    assert code == 0 or out.exists() or code == 128 + signum, err
    if out.exists():  # whole: a signal after the final rename still reports the interruption, over a whole output
        assert _outcome(out) == expected
    else:
        assert code == 128 + signum, err
    if code != 0:
        assert f"interrupted ({signal.Signals(signum).name})" in err and len(error_lines(err)) == 1, err
    assert leftovers(work, "out") == []
    assert {name: checksums(path) for name, path in inputs.items() if name != "recording"} == before


@given(point=st.floats(0, 1), signum=st.sampled_from(SIGNALS))
def test_an_interrupted_recover_leaves_a_bag_the_next_recover_finishes_the_same(inputs, tmp_path_factory, capsys, point,
                                                                                 signum):
    work = tmp_path_factory.mktemp("recover")
    reference, bag = work / "reference", work / "rec"
    shutil.copytree(inputs["recording"], reference)
    shutil.copytree(inputs["recording"], bag)
    with signal_at_call(0, signal.SIGTERM) as calls:
        assert main(["dataset", "recover", str(reference)]) == 0
    with signal_at_call(max(1, int(point * calls[0])), signum):
        code = main(["dataset", "recover", str(bag)])
    assert code in (0, 128 + signum)
    if code != 0:
        assert main(["dataset", "recover", str(bag)]) == 0
    capsys.readouterr()
    assert [m.rawdata for m in read_messages(bag)] == [m.rawdata for m in read_messages(reference)]
    assert checksums(bag) == checksums(reference) and leftovers(work, "rec") == []
