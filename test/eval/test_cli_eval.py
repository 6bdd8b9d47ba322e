"""``sam2auto eval``: one table on stdout, clear errors, JSON on request."""

from __future__ import annotations

import json

import pytest

from sam2auto_ros.cli import main
from sam2auto_ros.export.mots import write_mot
from sam2auto_ros.sim import make_scene


def test_sim_mode_prints_one_table(capsys, tmp_path):
    out = tmp_path / "scores.json"
    assert main(["eval", "sim", "--tracker", "gt", "--preset", "reentry", "--seeds", "0-1", "--frames", "20",
                 "--size", "320x240", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "320x240" in text and "reentry-s0" in text and "reentry-s1" in text and "COMBINED" in text
    rows = json.loads(out.read_text())["rows"]
    assert rows["COMBINED"]["HOTA"] == pytest.approx(1.0)


def test_dir_mode_scores_files(capsys, tmp_path):
    truth = [f.gt for f in make_scene("crossing", seed=2, n_frames=15).frames()]
    write_mot(tmp_path / "gt" / "seq.txt", truth)
    write_mot(tmp_path / "pred" / "seq.txt", truth[:10])
    assert main(["eval", "dir", str(tmp_path / "gt"), str(tmp_path / "pred"), "--json", str(tmp_path / "s.json")]) == 0
    assert "box IoU" in capsys.readouterr().out
    row = json.loads((tmp_path / "s.json").read_text())["rows"]["seq"]
    assert row["FN"] == sum(len(f) for f in truth[10:]) and row["FP"] == 0 and row["J&F"] is None


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["eval", "sim", "--tracker", "nope", "--frames", "3"], "unknown tracker"),
        (["eval", "dir", "/nonexistent/gt", "/nonexistent/pred"], "not a directory"),
    ],
)
def test_errors_are_one_line_and_exit_2(capsys, argv, fragment):
    assert main(argv) == 2
    assert fragment in capsys.readouterr().err


def test_bad_seed_syntax_is_an_argument_error(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "sim", "--seeds", "a-b"])
    assert "seeds must look like" in capsys.readouterr().err
