"""Detector weights in the model registry: named, resolved like SAM 2's checkpoints, verified, and
the default ``detector.model`` loads through it; a missing detector names its download command."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from sam2auto_ros.cli import main
from sam2auto_ros.cli import models as models_cli
from sam2auto_ros.sam2.registry import DEFAULT_DETECTOR, DETECTORS, MODELS_DIR_ENV, CheckpointError, detector_info, resolve_detector
from sam2auto_ros.smart_od.config import DetectorConfig
from sam2auto_ros.smart_od.detectors import DetectorError, build_detector
from sam2auto_ros.smart_od.detectors.owlv2 import Owlv2Detector
from test.smart_od.tiny_detectors import tiny_owlv2


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    models_cli.register(parser.add_subparsers())
    args = parser.parse_args(["models", *argv])
    return int(args.func(args))


@pytest.fixture
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A models folder holding random owlv2-base weights in the registry's layout, as $SAM2AUTO_MODELS_DIR."""
    model, processor = tiny_owlv2()
    folder = tmp_path / "models" / "detectors" / DEFAULT_DETECTOR
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "models"))
    return tmp_path / "models"


def test_registry_names_the_open_vocabulary_detectors_with_pinned_revisions() -> None:
    assert set(DETECTORS) == {"owlv2-base", "owlv2-large", "grounding-dino-tiny", "grounding-dino-base"}
    for det in DETECTORS.values():
        assert len(det.revision) == 40 and all(c in "0123456789abcdef" for c in det.revision)
        assert det.weights.sha256 is None or len(det.weights.sha256) == 64
        assert det.download_command == f"sam2auto models download {det.name}"
    assert DetectorConfig().model == DEFAULT_DETECTOR == "owlv2-base"
    with pytest.raises(CheckpointError, match="unknown detector"):
        detector_info("yolo-world")


def test_default_config_loads_the_registry_weights(models_dir: Path) -> None:
    det = build_detector(DetectorConfig(score_floor=0.0))  # nothing configured: owlv2-base from the registry
    assert isinstance(det, Owlv2Detector)
    assert resolve_detector(DEFAULT_DETECTOR) == models_dir / "detectors" / DEFAULT_DETECTOR
    _, report = det.detect_with_report(np.zeros((40, 60, 3), np.uint8), ["cat"])
    assert report.raw == 16  # one box per patch of the tiny model's 64 px input


def test_missing_detector_names_the_download_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path))
    with pytest.raises(DetectorError, match="fetch them with `sam2auto models download owlv2-base`"):
        build_detector(DetectorConfig())
    with pytest.raises(DetectorError, match="sam2auto export --detector owlv2 --model owlv2-base --fp16"):
        build_detector(DetectorConfig(backend="onnx", precision="fp16"))
    with pytest.raises(DetectorError, match="only OWLv2"):
        build_detector(DetectorConfig(backend="onnx", model="grounding-dino-tiny"))
    assert main(["export", "--detector", "owlv2"]) == 2  # nothing to export from: says how to get it
    assert "fetch them with `sam2auto models download owlv2-base`" in capsys.readouterr().err
    assert main(["export", "--detector", "owlv2", "--model", "grounding-dino-tiny"]) == 2
    assert "grounding-dino-tiny is not an owlv2 model" in capsys.readouterr().err


def test_models_cli_lists_and_verifies_detectors(models_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli("list") == 0
    out = capsys.readouterr().out
    assert str(models_dir / "detectors" / DEFAULT_DETECTOR) in out
    assert "google/owlv2-base-patch16-ensemble @ 7c77fc1" in out and "sam2auto models download grounding-dino-tiny" in out
    # random weights in place of the released files: the registry's byte sizes do not match
    assert _cli("verify", DEFAULT_DETECTOR) == 1
    out = capsys.readouterr().out
    assert "BAD" in out and "config.json size" in out and "no published SHA-256 recorded" in out
    assert _cli("verify", "owlv2-large") == 1
    assert "MISSING owlv2-large: fetch it with `sam2auto models download owlv2-large`" in capsys.readouterr().out


def test_a_download_that_fails_leaves_nothing_and_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import huggingface_hub

    def offline(repo_id: str, filename: str, **kwargs: object) -> str:
        target = Path(str(kwargs["local_dir"])) / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        if filename == "model.safetensors":
            raise OSError("no route to host")
        target.write_text("{}")
        return str(target)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)  # the test stays offline on any machine
    assert _cli("--dir", str(tmp_path), "download", "grounding-dino-tiny") == 1
    err = capsys.readouterr().err
    assert "cannot download grounding-dino-tiny" in err and "c254d1f282bf348ab7f5a27d5cf90531eeba69be" in err
    assert "sam2auto models verify grounding-dino-tiny" in err
    assert not [p for p in tmp_path.rglob("*") if p.is_file() or p.name.endswith(".part")]  # the partial folder is gone


def test_a_complete_download_is_verified_before_it_appears(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    import huggingface_hub

    def wrong_bytes(repo_id: str, filename: str, **kwargs: object) -> str:
        target = Path(str(kwargs["local_dir"])) / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"not the released weights")
        return str(target)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", wrong_bytes)
    assert _cli("--dir", str(tmp_path), "download", "owlv2-large") == 1
    assert "do not match the registry" in capsys.readouterr().err
    assert not (tmp_path / "detectors" / "owlv2-large").exists()


def test_onnx_backend_resolves_the_registry_export_and_checks_it(models_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``sam2auto export --detector owlv2`` reads the registry's weights; ``backend: onnx`` with the
    registry name looks for the export at the registry's image size and refuses one of another size."""
    out = models_dir / "onnx" / "owlv2-base-960-fp32"  # where the registry's 960 px export belongs
    assert main(["export", "--detector", "owlv2", "--max-classes", "4", "--out", str(out)]) == 0
    assert f"exporting owlv2-base from {models_dir / 'detectors' / 'owlv2-base'}" in capsys.readouterr().out
    with pytest.raises(DetectorError, match="owlv2-base @ 64px fp32.*image_size=960"):
        build_detector(DetectorConfig(backend="onnx", onnx_providers=["cpu"]))
