"""benchmarks/device_check.sh: its runner (sections in order, one table, failures reported) and
its CPU dry run, the path the GPU check takes with small sizes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "device_check.sh"


def _run(out: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), "--dry-run", "--out", str(out), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def _rows(table: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()[4:] if line.startswith("|")]


def test_sections_run_in_order_into_one_table_and_failures_are_rows(tmp_path):
    sections = tmp_path / "sections"
    sections.mkdir()
    (sections / "20_second.sh").write_text('"$DEVICE_CHECK_PY" -m section --row shell-check "n=2" 7 "from bash"\n')
    (sections / "10_first.py").write_text(
        "import os\nfrom section import row, device, dry\n"
        "row('first check', f'device {device()} dry {dry()}', os.environ['DEVICE_CHECK_SECTION'])\n")
    (sections / "30_broken.py").write_text("from section import row\nrow('before the crash', '-', '1')\nraise SystemExit(3)\n")
    (sections / "40_slow.py").write_text("import time\ntime.sleep(60)\n")
    (sections / "notes.txt").write_text("not a section\n")
    (sections / "helper.py").write_text("raise SystemExit('a helper is not a section')\n")
    done = _run(tmp_path / "out.md", env={"DEVICE_CHECK_SECTIONS": str(sections), "DEVICE_CHECK_BUDGET_S": "6", "DEVICE_CHECK_MIN_LEFT_S": "1"}, timeout=120)
    assert done.returncode == 1, done.stderr  # a section failed
    table = (tmp_path / "out.md").read_text()
    assert table.startswith("## Device check: CPU dry run") and "DRY RUN" in table.splitlines()[0]
    rows = _rows(table)
    assert rows[0] == ["10_first", "first check", "device cpu dry True", "10_first", ""]
    assert rows[1] == ["20_second", "shell-check", "n=2", "7", "from bash"]
    assert rows[2] == ["30_broken", "before the crash", "-", "1", ""]
    assert rows[3][:3] == ["30_broken", "section", "-"] and rows[3][3] == "FAILED" and "exit status 3" in rows[3][4]
    assert rows[4][0] == "40_slow" and rows[4][3] in ("FAILED", "SKIPPED")
    assert len(rows) == 5
    assert (tmp_path / "out_logs" / "30_broken.log").exists()


@pytest.mark.slow
@pytest.mark.ros
def test_dry_run_takes_every_sections_path_on_cpu(tmp_path):
    done = _run(tmp_path / "check.md", timeout=900)
    table = (tmp_path / "check.md").read_text()
    assert done.returncode == 0, done.stderr[-3000:] + table
    rows = _rows(table)
    sections = {r[0] for r in rows}
    assert {"10_engine", "20_onnx", "30_annotate", "40_graph"} <= sections
    assert not [r for r in rows if r[3] in ("FAILED", "SKIPPED")]
    checks = {r[1] for r in rows}
    assert {"engine vs SAM2VideoPredictor", "engine ms/frame", "onnxruntime cpu ms/frame", "annotate-bag ms/frame",
            "frame budget ms/frame (CPU work, one thread)", "live graph end-to-end ms", "live graph frames"} <= checks
