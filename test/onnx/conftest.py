"""Shared, expensive fixtures: one random-weight checkpoint at 256 px and its fp32/fp16 exports.

Each export takes about a minute on a 2-core machine, so they are made once per session.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from sam2auto_ros.cli import main
from sam2auto_ros.onnx.exporter import ExportResult, export_sam2
from sam2auto_ros.sam2.loading import build_model, save_random_checkpoint
from sam2auto_ros.sam2.parts import TorchSam2Parts

MODEL = "sam2.1_hiera_tiny"
CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
SIZE = 256


@pytest.fixture(scope="session", autouse=True)
def _quiet_and_small() -> None:
    torch.set_num_threads(min(2, torch.get_num_threads()))
    for noisy in ("onnx_ir", "onnxscript", "torch.onnx", "torch._dynamo", "torch.export"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_random_checkpoint(tmp_path_factory.mktemp("ckpt") / f"{MODEL}.pt", CONFIG, image_size=SIZE, seed=0)


@pytest.fixture(scope="session")
def torch_model(checkpoint: Path) -> torch.nn.Module:
    return build_model(MODEL, checkpoint, image_size=SIZE)


@pytest.fixture(scope="session")
def torch_parts(torch_model: torch.nn.Module) -> TorchSam2Parts:
    return TorchSam2Parts(torch_model)


@pytest.fixture(scope="session")
def fp32_dir(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fp32 graphs written through the command line, as a user would."""
    out = tmp_path_factory.mktemp("onnx") / "fp32"
    code = main(["export", "--model", MODEL, "--checkpoint", str(checkpoint), "--image-size", str(SIZE), "--out", str(out)])
    assert code == 0
    return out


@pytest.fixture(scope="session")
def fp16_export(torch_model: torch.nn.Module, checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    return export_sam2(torch_model, MODEL, checkpoint, tmp_path_factory.mktemp("onnx") / "fp16", precision="fp16")
