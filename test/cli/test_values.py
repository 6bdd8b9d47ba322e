"""Wrong values on the command line or in a parameter file: one line, exit code 2, nothing written.

The issue's cases: empty or repeated class names (accepted, and the labelled bag then refused by
``dataset export``), an output namespace that is no ROS name, an absurd ``--fps`` (every frame
the same stamp), a string where a SMART-OD number belongs (a traceback), a boolean given as the
string "no" (taken as true), a section given as a scalar (kept), a pickled checkpoint (refused
with a traceback that passed on torch's hint to load it with ``weights_only=False``).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from sam2auto_ros.annotate_bag import record_scene_bag
from sam2auto_ros.cli import main
from sam2auto_ros.sim import make_scene


@pytest.fixture(scope="module")
def bag(tmp_path_factory) -> Path:
    return record_scene_bag(make_scene("crossing", seed=2, n_frames=4, height=48, width=64).frames(),
                            tmp_path_factory.mktemp("values") / "sim")


def _refused(capsys, argv: list[str], out: Path, message: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line and not line.startswith("INFO ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"sam2auto {argv[0]}") and message in lines[0], lines[0]
    assert not out.exists() and not list(out.parent.glob(f".{out.name}*"))


def _smart_od_file(tmp_path: Path, body: str) -> str:
    path = tmp_path / "smart_od.yaml"
    path.write_text("/**/smart_od_node:\n  ros__parameters:\n" + body)
    return str(path)


def test_annotate_bag_values(bag, tmp_path, capsys):
    out = tmp_path / "out"
    base = ["annotate-bag", str(bag), str(out), "--quiet"]
    _refused(capsys, [*base, "--classes", "person", ""], out, "classes[1] is empty")
    _refused(capsys, [*base, "--classes", "car", "person", "car"], out, "classes name 'car' more than once")
    _refused(capsys, [*base, "--output-ns", "/sam2auto/my labels"], out, "is not a valid ROS namespace")
    _refused(capsys, [*base, "--output-ns", "/sam2auto/"], out, "it ends with '/'")
    _refused(capsys, [*base, "--topic", "/cam/image raw"], out, "is not a valid ROS topic name")
    config = _smart_od_file(tmp_path, "    amg:\n      points_per_side: \"16\"\n")
    _refused(capsys, [*base, "--smart-od-config", config], out, "amg.points_per_side must be an integer, got the string '16'")
    config = _smart_od_file(tmp_path, "    slicing:\n      enabled: \"no\"\n")
    _refused(capsys, [*base, "--smart-od-config", config], out, "slicing.enabled must be true or false, got the string 'no'")
    config = _smart_od_file(tmp_path, "    amg: 32\n")
    _refused(capsys, [*base, "--smart-od-config", config], out, "amg is a section")


def test_a_pickled_checkpoint_is_one_line_without_torchs_hint(bag, tmp_path, capsys):
    evil = tmp_path / "evil.pt"
    torch.save({"model": Path("x")}, evil)  # a pickled object where tensors belong
    out = tmp_path / "out"
    _refused(capsys, ["annotate-bag", str(bag), str(out), "--quiet", "--backend", "sam2", "--checkpoint", str(evil)], out,
             "holds pickled Python objects")
    assert "weights_only" not in capsys.readouterr().err


def test_dataset_values(bag, tmp_path, capsys):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        cv2.imwrite(str(frames / f"{i}.png"), np.full((16, 16, 3), i * 40, np.uint8))
    out = tmp_path / "imported"
    _refused(capsys, ["dataset", "import", str(frames), "--out", str(out), "--fps", "1e9", "--quiet"], out,
             "--fps must lie in [0.001, 10000], got 1000000000.0")
    _refused(capsys, ["dataset", "import", str(frames), "--out", str(out), "--fps", "0", "--quiet"], out, "--fps must lie in")
    _refused(capsys, ["dataset", "import", str(frames), "--out", str(out), "--topic", "/camera/image raw", "--quiet"], out,
             "is not a valid ROS topic name")
    labelled = tmp_path / "labelled"
    assert main(["annotate-bag", str(bag), str(labelled), "--quiet", "--no-overlay"]) == 0
    capsys.readouterr()
    ds = tmp_path / "ds"
    _refused(capsys, ["dataset", "export", str(labelled), "--out", str(ds), "--classes", "car", "car"], ds,
             "categories name 'car' more than once")
    _refused(capsys, ["dataset", "export", str(labelled), "--out", str(ds), "--fps", "-1"], ds, "--fps must lie in")
