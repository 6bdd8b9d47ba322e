"""Shared SAM 2 fixtures: random SAM 2.1-tiny weights saved in the released checkpoint format."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from sam2auto_ros.sam2.loading import save_random_checkpoint
from sam2auto_ros.sam2.registry import checkpoint_info

MODEL = "sam2.1_hiera_tiny"


@pytest.fixture(scope="session", autouse=True)
def _torch_threads() -> None:
    # Two threads on CI's dedicated 2 cores; SAM2AUTO_TEST_THREADS=1 where the machine is shared
    # (two threads thrash badly under load).
    torch.set_num_threads(int(os.environ.get("SAM2AUTO_TEST_THREADS", min(2, os.cpu_count() or 1))))


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random weights for SAM 2.1 tiny, written as ``{"model": state_dict}`` under the real file name."""
    info = checkpoint_info(MODEL)
    return save_random_checkpoint(tmp_path_factory.mktemp("models") / info.filename, info.config, seed=0)
