"""Random truncation and byte flips of the shipped parameter files: every outcome is the parsed
configuration or one line (the config's own error type) naming the file or the parameter, never a
traceback from YAML, UTF-8 decoding or a comparison of a string with a number."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sam2auto_ros.annotate_bag import record_scene_bag
from sam2auto_ros.cli import main
from sam2auto_ros.flash import FlashConfig, FlashConfigError
from sam2auto_ros.sim import make_scene
from sam2auto_ros.smart_od.config import ConfigError, SmartODConfig
from test.faults.conftest import checksums, error_lines, leftovers

CONFIG = Path(__file__).resolve().parents[2] / "config"
LOADERS = {"flash.yaml": (FlashConfig.from_yaml, FlashConfigError), "smart_od.yaml": (SmartODConfig.from_yaml, ConfigError)}


def _damaged(text: bytes, kind: str, where: float, flips: list[tuple[float, int]]) -> bytes:
    data = bytearray(text)
    if kind == "truncate":
        return bytes(data[: int(where * len(data))])
    for position, xor in flips:
        data[min(int(position * len(data)), len(data) - 1)] ^= xor
    return bytes(data)


_DAMAGE = {"kind": st.sampled_from(["truncate", "flip"]), "where": st.floats(0, 1),
           "flips": st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), min_size=1, max_size=4)}


@given(name=st.sampled_from(sorted(LOADERS)), **_DAMAGE)
def test_a_damaged_parameter_file_is_read_or_refused_in_one_line(tmp_path_factory, name, kind, where, flips):
    path = tmp_path_factory.mktemp("params") / name
    path.write_bytes(_damaged((CONFIG / name).read_bytes(), kind, where, flips))
    load, error = LOADERS[name]
    try:
        load(path)
    except error as exc:
        assert "\n" not in str(exc) and str(exc), repr(exc)


@pytest.fixture(scope="module")
def bag(tmp_path_factory) -> Path:
    return record_scene_bag(make_scene("crossing", seed=1, n_frames=3, height=32, width=32).frames(),
                            tmp_path_factory.mktemp("bag") / "sim")


@given(**_DAMAGE)
def test_annotate_bag_with_a_damaged_smart_od_file_answers_in_one_line(bag, tmp_path_factory, capsys, kind, where, flips):
    work = tmp_path_factory.mktemp("run")
    config = work / "smart_od.yaml"
    config.write_bytes(_damaged((CONFIG / "smart_od.yaml").read_bytes(), kind, where, flips))
    before = checksums(bag)
    out = work / "out"
    code = main(["annotate-bag", str(bag), str(out), "--quiet", "--no-overlay", "--smart-od-config", str(config)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code == 2 and len(error_lines(err)) == 1 and not out.exists(), err  # no weights here: never a silent run
    assert checksums(bag) == before and leftovers(work, "out") == []
