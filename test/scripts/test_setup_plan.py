"""scripts/setup.sh's decisions, read from its plan (SAM2AUTO_SETUP_PLAN=1: decide, print, touch
nothing): the ROS distribution, and where torch comes from, with an L4T release file placed in a
temporary root. No Jetson ran these: they check the decision, not NVIDIA's wheels."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JETPACK_6 = "# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, DATE: Wed Jan  8 01:49:37 UTC 2025\n"


def setup_plan(tmp_path: Path, release: str | None = None, **env: str) -> subprocess.CompletedProcess:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True, exist_ok=True)
    if release is not None:
        (root / "etc" / "nv_tegra_release").write_text(release)
    clean = {k: v for k, v in os.environ.items()
             if k not in ("SAM2AUTO_USE_SYSTEM_TORCH", "SAM2AUTO_ROS_DISTRO", "SAM2AUTO_VENV", "_SAM2AUTO_VENV_CHOSEN")}
    full = {**clean, "SAM2AUTO_SETUP_PLAN": "1", "SAM2AUTO_SYSTEM_ROOT": str(root), "SAM2AUTO_ACCEL": "cpu",
            "XDG_CACHE_HOME": str(tmp_path / "cache"), **env}
    return subprocess.run(["bash", str(ROOT / "scripts" / "setup.sh")], env=full, capture_output=True, text=True, timeout=60)


def plan_of(done: subprocess.CompletedProcess) -> dict[str, str]:
    assert done.returncode == 0, done.stderr
    return dict(line.split("=", 1) for line in done.stdout.splitlines())


def test_a_plain_machine_takes_torch_from_pypi_and_jazzy_by_default(tmp_path):
    plan = plan_of(setup_plan(tmp_path))
    assert plan["torch"] == "pypi" and plan["distro"] == "jazzy"
    assert plan["venv"].startswith(str(tmp_path / "cache")) and plan["venv"].endswith("-jazzy")


def test_an_l4t_release_file_means_the_systems_torch(tmp_path):
    plan = plan_of(setup_plan(tmp_path, JETPACK_6))
    assert plan["torch"] == "system" and plan["why"] == "Jetson, L4T R36.4.3"


def test_the_variable_asks_for_the_systems_torch_anywhere(tmp_path):
    plan = plan_of(setup_plan(tmp_path, SAM2AUTO_USE_SYSTEM_TORCH="1"))
    assert plan["torch"] == "system" and plan["why"] == "SAM2AUTO_USE_SYSTEM_TORCH=1"


@pytest.mark.parametrize(("release", "says"), [
    ("# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64\n", "JetPack 6 (L4T R36) is expected"),
    ("not a release file\n", "does not read like an L4T release file"),
])
def test_an_old_or_unreadable_l4t_is_one_clear_error(tmp_path, release, says):
    done = setup_plan(tmp_path, release)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and says in done.stderr


def test_kilted_gets_a_venv_of_its_own(tmp_path):
    jazzy, kilted = plan_of(setup_plan(tmp_path)), plan_of(setup_plan(tmp_path, SAM2AUTO_ROS_DISTRO="kilted"))
    assert kilted["distro"] == "kilted" and kilted["venv"] == jazzy["venv"].removesuffix("-jazzy") + "-kilted"


def test_a_distribution_without_wheels_is_one_clear_error(tmp_path):
    done = setup_plan(tmp_path, SAM2AUTO_ROS_DISTRO="humble")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "SAM2AUTO_ROS_DISTRO=humble" in done.stderr and "jazzy kilted" in done.stderr and "README" in done.stderr


def test_a_venv_holding_another_distribution_is_refused(tmp_path):
    venv = tmp_path / "venv"
    (venv / "lib" / "python3.11" / "site-packages" / "ros_kilted_rclpy-9.1.2.dist-info").mkdir(parents=True)
    done = setup_plan(tmp_path, SAM2AUTO_VENV=str(venv))
    assert done.returncode == 2 and "holds ROS 2 kilted" in done.stderr and "never share a venv" in done.stderr
    assert plan_of(setup_plan(tmp_path, SAM2AUTO_VENV=str(venv), SAM2AUTO_ROS_DISTRO="kilted"))["venv"] == str(venv)
