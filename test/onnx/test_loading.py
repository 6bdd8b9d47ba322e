"""Loading refuses graphs that do not belong, and says which providers really run."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from sam2auto_ros.cli import main
from sam2auto_ros.onnx.backend import build_parts
from sam2auto_ros.onnx.exporter import ExportResult
from sam2auto_ros.onnx.graphs import GRAPH_NAMES
from sam2auto_ros.onnx.metadata import CONSTANTS_FILE, OnnxModelError
from sam2auto_ros.onnx.parts import OnnxSam2Parts
from sam2auto_ros.onnx.providers import ProviderError, resolve
from sam2auto_ros.sam2.loading import save_random_checkpoint
from sam2auto_ros.sam2.parts import TorchSam2Parts

# all of these need the exported graphs; the first one to run waits for the export
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]


def _copy(src: Path, dst: Path, replace: dict[str, Path] | None = None, drop: str | None = None) -> Path:
    """A view of an export in ``dst`` (symlinks), with some files swapped or left out."""
    dst.mkdir()
    for name in [*(f"{g}.onnx" for g in GRAPH_NAMES), CONSTANTS_FILE]:
        if name != drop:
            os.symlink((replace or {}).get(name, src / name), dst / name)
    return dst


def test_loads_and_reports_cpu(fp32_dir: Path) -> None:
    parts = OnnxSam2Parts(fp32_dir, model="sam2.1_hiera_tiny", image_size=256, precision="fp32", providers=["cpu"])
    assert set(parts.active_providers.values()) == {"CPUExecutionProvider"}
    assert parts.settings.image_size == 256


def test_missing_directory_graph_or_constants(fp32_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(OnnxModelError, match="sam2auto export"):
        OnnxSam2Parts(tmp_path / "nowhere")
    with pytest.raises(OnnxModelError, match=r"memory_encoder\.onnx is missing"):
        OnnxSam2Parts(_copy(fp32_dir, tmp_path / "a", drop="memory_encoder.onnx"), providers=["cpu"])
    with pytest.raises(OnnxModelError, match="constants.npz is missing"):
        OnnxSam2Parts(_copy(fp32_dir, tmp_path / "b", drop=CONSTANTS_FILE), providers=["cpu"])


def test_other_size_precision_or_checkpoint_than_configured(fp32_dir: Path) -> None:
    with pytest.raises(OnnxModelError, match=r"256px.*image_size=512"):
        OnnxSam2Parts(fp32_dir, image_size=512, providers=["cpu"])
    with pytest.raises(OnnxModelError, match="precision='fp16'"):
        OnnxSam2Parts(fp32_dir, precision="fp16", providers=["cpu"])
    with pytest.raises(OnnxModelError, match="model='sam2.1_hiera_large'"):
        OnnxSam2Parts(fp32_dir, model="sam2.1_hiera_large", providers=["cpu"])
    with pytest.raises(OnnxModelError, match="checkpoint_sha256"):
        OnnxSam2Parts(fp32_dir, checkpoint_sha256="0" * 64, providers=["cpu"])


def test_backend_factory_checks_the_checkpoint_hash(fp32_dir: Path, checkpoint: Path, tmp_path: Path) -> None:
    parts = build_parts("onnx", "sam2.1_hiera_tiny", 256, checkpoint=checkpoint, onnx_dir=fp32_dir, providers=["cpu"])
    assert isinstance(parts, OnnxSam2Parts)
    other = save_random_checkpoint(tmp_path / "other.pt", "configs/sam2.1/sam2.1_hiera_t.yaml", image_size=256, seed=1)
    with pytest.raises(OnnxModelError, match="checkpoint_sha256"):
        build_parts("onnx", "sam2.1_hiera_tiny", 256, checkpoint=other, onnx_dir=fp32_dir, providers=["cpu"])
    assert isinstance(build_parts("torch", "sam2.1_hiera_tiny", 256, checkpoint=checkpoint), TorchSam2Parts)
    with pytest.raises(ValueError, match="unknown SAM 2 backend"):
        build_parts("tensorflow", "sam2.1_hiera_tiny", 256)


def test_files_of_two_exports_are_not_mixed(fp32_dir: Path, fp16_export: ExportResult, tmp_path: Path) -> None:
    mixed = _copy(fp32_dir, tmp_path / "mixed", replace={"sam_heads.onnx": fp16_export.graphs["sam_heads"]})
    with pytest.raises(OnnxModelError, match="do not mix"):
        OnnxSam2Parts(mixed, providers=["cpu"])
    renamed = _copy(fp32_dir, tmp_path / "renamed", replace={"sam_heads.onnx": fp32_dir / "memory_encoder.onnx"})
    with pytest.raises(OnnxModelError, match="holds graph 'memory_encoder'"):
        OnnxSam2Parts(renamed, providers=["cpu"])


def test_foreign_or_corrupt_graph(fp32_dir: Path, tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    foreign = tmp_path / "foreign.onnx"
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(graph, ir_version=10, opset_imports=[helper.make_opsetid("", 18)]), foreign)
    with pytest.raises(OnnxModelError, match="no sam2auto export metadata"):
        OnnxSam2Parts(_copy(fp32_dir, tmp_path / "a", replace={"memory_encoder.onnx": foreign}), providers=["cpu"])
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"not a protobuf at all")
    with pytest.raises(OnnxModelError, match="cannot load"):
        OnnxSam2Parts(_copy(fp32_dir, tmp_path / "b", replace={"memory_encoder.onnx": corrupt}), providers=["cpu"])


@pytest.fixture
def cpu_only_onnxruntime(monkeypatch: pytest.MonkeyPatch) -> None:
    """An onnxruntime build without the CUDA / TensorRT providers (the CPU wheel), whatever this
    machine has installed (set-up installs onnxruntime-gpu where a GPU is seen)."""
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])


@pytest.mark.usefixtures("cpu_only_onnxruntime")
def test_provider_fallback_is_logged_and_strict_refuses(fp32_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sam2auto_ros.onnx.providers"):
        parts = OnnxSam2Parts(fp32_dir, providers=["tensorrt", "cuda", "cpu"])
    assert set(parts.active_providers.values()) == {"CPUExecutionProvider"}
    assert any("not installed" in r.message and "CPUExecutionProvider" in r.message for r in caplog.records)
    with pytest.raises(ProviderError, match="not installed"):
        OnnxSam2Parts(fp32_dir, providers=["cuda", "cpu"], strict_providers=True)


@pytest.mark.usefixtures("cpu_only_onnxruntime")
def test_provider_names() -> None:
    with pytest.raises(ProviderError, match="none of the requested providers"):
        resolve(["cuda"])
    with pytest.raises(ValueError, match="unknown onnxruntime provider 'gpu'"):
        resolve(["gpu", "cpu"])
    assert resolve(["CPUExecutionProvider"]) == ["CPUExecutionProvider"]


def test_cli_rejects_bad_requests(checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["export", "--model", "sam2.1_hiera_tiny", "--checkpoint", str(checkpoint), "--image-size", "256", "--out", str(tmp_path)]
    assert main([*args, "--opset", "17"]) == 2
    assert "opset 17 not supported" in capsys.readouterr().err
    assert main(["export", "--model", "sam2.1_hiera_tiny", "--checkpoint", str(tmp_path / "absent.pt")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not any(tmp_path.glob("*.onnx"))
