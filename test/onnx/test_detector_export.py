"""OWLv2 split into two ONNX graphs: parity with transformers, checks every graph passes, and the
refusals at load. A tiny random OWLv2 saved with ``save_pretrained`` and exported through the
command line from that folder, as a user would."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import onnx
import pytest
import torch

from sam2auto_ros.cli import main
from sam2auto_ros.onnx.detector_export import EXPORT_INFO_FILE, IMAGE_GRAPH, OWLV2_GRAPHS, TEXT_GRAPH, export_owlv2
from sam2auto_ros.onnx.detector_metadata import config_fingerprint, folder_config_fingerprint
from sam2auto_ros.onnx.tensorrt_ops import unsupported_by_tensorrt
from sam2auto_ros.smart_od.config import DetectorConfig
from sam2auto_ros.smart_od.detectors import DetectorError, build_detector
from sam2auto_ros.smart_od.detectors.hf import load_owlv2_weights
from sam2auto_ros.smart_od.detectors.owlv2 import Owlv2Detector, TorchOwlv2Towers, boxes_from_outputs
from sam2auto_ros.smart_od.detectors.owlv2_onnx import DetectorModelError, OnnxOwlv2Towers, load_processor
from test.smart_od.tiny_detectors import tiny_owlv2

SLOTS = 8
NAMES = ["cat", "dog", "car"]
IMAGE = np.random.default_rng(0).integers(0, 255, (48, 80, 3), dtype=np.uint8)
#: fp16 graphs against the float32 transformers model (measured on the tiny model: logits 0.032,
#: boxes 0.012 of the padded square's side, text embeddings 4e-4)
FP16_TOL = {"logits": 0.05, "boxes": 0.02, "text": 2e-3}


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model, processor = tiny_owlv2()
    path = tmp_path_factory.mktemp("owlv2-weights")
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def exports(weights_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("owlv2-onnx")
    out = {}
    for precision in ("fp32", "fp16"):
        out[precision] = root / precision
        argv = ["export", "--detector", "owlv2", "--weights", str(weights_dir), "--model", "tiny-owl",
                "--max-classes", str(SLOTS), "--out", str(out[precision])]
        assert main(argv + (["--fp16"] if precision == "fp16" else [])) == 0
    return out


class Reference(NamedTuple):
    model: Any
    inputs: Any
    outputs: Any
    post: dict[str, torch.Tensor]


@pytest.fixture(scope="module")
def reference(weights_dir: Path) -> Reference:
    """transformers' own forward pass and post-processing on the saved weights."""
    model, processor = load_owlv2_weights(str(weights_dir))
    with torch.no_grad():
        inputs = processor(text=[NAMES], images=IMAGE, return_tensors="pt", padding="max_length", max_length=16)
        outputs = model(**inputs)
    side = max(IMAGE.shape[:2])
    post = processor.post_process_grounded_object_detection(outputs, threshold=-1.0, target_sizes=[(side, side)])[0]
    return Reference(model, inputs, outputs, post)


def _onnx_detector(directory: Path, **kwargs) -> Owlv2Detector:
    return Owlv2Detector(OnnxOwlv2Towers(directory, providers=["cpu"], **kwargs), load_processor(directory), score_floor=0.0, nms_iou=1.0)


def test_every_graph_passes_the_checker_and_tensorrt_allowlist(exports: dict[str, Path]) -> None:
    for precision, directory in exports.items():
        for name in OWLV2_GRAPHS:
            proto = onnx.load(str(directory / f"{name}.onnx"))
            onnx.checker.check_model(proto, full_check=True)
            assert unsupported_by_tensorrt(proto) == [], (precision, name)
            props = {p.key: p.value for p in proto.metadata_props}
            assert props["sam2auto.detector.graph"] == name and props["sam2auto.detector.precision"] == precision
            assert props["sam2auto.detector.max_queries"] == str(SLOTS)


def test_fp32_graphs_match_transformers(exports: dict[str, Path], reference: Reference) -> None:
    inputs, outputs, post = reference.inputs, reference.outputs, reference.post
    towers = OnnxOwlv2Towers(exports["fp32"], providers=["cpu"])
    text = towers.embed_text(inputs["input_ids"].numpy())
    assert np.abs(text - outputs.text_embeds[0].numpy()).max() < 1e-4
    queries = np.zeros((1, SLOTS, text.shape[1]), np.float32)
    queries[0, : len(NAMES)] = text
    logits, boxes = towers.detect(inputs["pixel_values"].numpy(), queries)
    assert np.abs(logits[0, :, : len(NAMES)] - outputs.logits[0].numpy()).max() < 1e-4
    assert np.abs(boxes - outputs.pred_boxes.numpy()).max() < 1e-4
    # the detector's own pre- and post-processing give transformers' detections
    raw = _onnx_detector(exports["fp32"])._predict(IMAGE, NAMES)
    assert np.abs(raw.boxes - post["boxes"].numpy()).max() < 1e-3  # pixels of an 80 px square
    assert np.abs(raw.scores - post["scores"].numpy()).max() < 1e-4
    assert np.array_equal(raw.class_ids, post["labels"].numpy())


def test_fp16_graphs_within_stated_tolerance(exports: dict[str, Path], reference: Reference) -> None:
    inputs, outputs = reference.inputs, reference.outputs
    towers = OnnxOwlv2Towers(exports["fp16"], providers=["cpu"], precision="fp16")
    text = towers.embed_text(inputs["input_ids"].numpy())
    assert np.abs(text - outputs.text_embeds[0].numpy()).max() < FP16_TOL["text"]
    queries = np.zeros((1, SLOTS, text.shape[1]), np.float32)
    queries[0, : len(NAMES)] = outputs.text_embeds[0].numpy()
    logits, boxes = towers.detect(inputs["pixel_values"].numpy(), queries)
    assert logits.dtype == np.float32 and boxes.dtype == np.float32  # fp16 inside, float32 at the edges
    assert np.abs(logits[0, :, : len(NAMES)] - outputs.logits[0].numpy()).max() < FP16_TOL["logits"]
    assert np.abs(boxes - outputs.pred_boxes.numpy()).max() < FP16_TOL["boxes"]


def test_torch_towers_are_the_traced_modules(reference: Reference) -> None:
    inputs, outputs, post = reference.inputs, reference.outputs, reference.post
    towers = TorchOwlv2Towers(reference.model)
    text = towers.embed_text(inputs["input_ids"].numpy())
    logits, boxes = towers.detect(inputs["pixel_values"].numpy(), text[None])
    assert np.abs(logits - outputs.logits.numpy()).max() < 1e-5 and np.abs(boxes - outputs.pred_boxes.numpy()).max() < 1e-6
    raw = boxes_from_outputs(logits[0], boxes[0], max(IMAGE.shape[:2]))
    assert np.abs(raw.boxes - post["boxes"].numpy()).max() < 1e-3


def test_load_refuses_another_configuration_size_or_precision(exports: dict[str, Path], weights_dir: Path) -> None:
    assert OnnxOwlv2Towers(exports["fp32"], providers=["cpu"], model="tiny-owl", image_size=64, precision="fp32",
                           config_sha256=folder_config_fingerprint(weights_dir)).max_queries == SLOTS
    other = dict(json.loads((weights_dir / "config.json").read_text()), projection_dim=16)
    for kwargs, reason in (({"image_size": 960}, "image_size=960"), ({"precision": "fp16"}, "precision='fp16'"),
                           ({"model": "owlv2-base"}, "model='owlv2-base'"),
                           ({"config_sha256": config_fingerprint(other)}, "config_sha256"),
                           ({"weights_sha256": "0" * 64}, "weights_sha256")):
        with pytest.raises(DetectorModelError, match=reason):
            OnnxOwlv2Towers(exports["fp32"], providers=["cpu"], **kwargs)
    with pytest.raises(DetectorModelError, match="precision='fp32'"):
        build_detector(DetectorConfig(backend="onnx", model=str(exports["fp16"]), precision="fp32"))


def test_load_refuses_graphs_of_two_exports_and_incomplete_folders(exports: dict[str, Path], tmp_path: Path) -> None:
    mixed = tmp_path / "mixed"
    shutil.copytree(exports["fp32"], mixed)
    shutil.copy(exports["fp16"] / f"{IMAGE_GRAPH}.onnx", mixed / f"{IMAGE_GRAPH}.onnx")
    with pytest.raises(DetectorModelError, match="different exports"):
        OnnxOwlv2Towers(mixed, providers=["cpu"])
    (mixed / f"{IMAGE_GRAPH}.onnx").unlink()
    with pytest.raises(DetectorModelError, match="missing"):
        OnnxOwlv2Towers(mixed, providers=["cpu"])
    (mixed / EXPORT_INFO_FILE).unlink()
    with pytest.raises(DetectorModelError, match=EXPORT_INFO_FILE):
        OnnxOwlv2Towers(mixed, providers=["cpu"])
    with pytest.raises(DetectorModelError, match="sam2auto export --detector owlv2"):
        OnnxOwlv2Towers(tmp_path / "nothing", providers=["cpu"])


def test_too_many_classes_or_too_long_a_name_is_one_clear_error(exports: dict[str, Path]) -> None:
    det = build_detector(DetectorConfig(backend="onnx", model=str(exports["fp32"]), onnx_providers=["cpu"]))
    with pytest.raises(DetectorError, match=rf"9 class names, but this OWLv2 graph takes at most {SLOTS}.*--max-classes 9"):
        det.detect(IMAGE, [f"{a}{b}" for a, b in zip("abcdefghi", "abcdefghi")])
    with pytest.raises(DetectorError, match=r"'abcdefghijklmnopq' is 19 tokens long; .* at most 16"):
        det.detect(IMAGE, ["cat", "abcdefghijklmnopq"])
    assert det.text_cache.stats().size == 0  # nothing was embedded for the refused vocabulary


def test_a_vocabulary_change_embeds_only_new_names(exports: dict[str, Path]) -> None:
    towers = OnnxOwlv2Towers(exports["fp32"], providers=["cpu"])
    embedded: list[list[int]] = []
    real = towers.embed_text

    def counting(ids: np.ndarray) -> np.ndarray:
        embedded.append([int(i) for i in ids[:, 1]])  # first token of each name
        return real(ids)

    towers.embed_text = counting  # type: ignore[method-assign]
    det = Owlv2Detector(towers, load_processor(exports["fp32"]), score_floor=0.0, nms_iou=1.0)
    det.detect(IMAGE, ["cat", "dog"])
    det.detect(IMAGE, ["cat", "dog"])
    changed = det.detect(IMAGE, ["dog", "car", "cat"])
    assert len(embedded) == 2 and [len(call) for call in embedded] == [2, 1]  # 'car' alone the second time
    stats = det.cache_stats()
    assert (stats.hits, stats.misses, stats.encoder_calls, stats.size) == (4, 3, 2, 3)
    uncached = _onnx_detector(exports["fp32"])
    fresh = uncached.detect(IMAGE, ["dog", "car", "cat"])
    assert [i.label for i in changed] == [i.label for i in fresh]
    assert np.allclose([i.score for i in changed], [i.score for i in fresh], atol=1e-6)
    assert np.allclose([i.box for i in changed], [i.box for i in fresh], atol=1e-4)
    assert uncached.cache_stats().misses == 3


def test_export_refuses_bad_requests(weights_dir: Path, tmp_path: Path) -> None:
    model, processor = tiny_owlv2()
    with pytest.raises(ValueError, match="precision"):
        export_owlv2(model, processor, "tiny", tmp_path, precision="int8")
    with pytest.raises(ValueError, match="max_queries"):
        export_owlv2(model, processor, "tiny", tmp_path, max_queries=0)
    assert main(["export", "--detector", "owlv2", "--weights", str(weights_dir), "--image-size", "960", "--out", str(tmp_path)]) == 2
    assert not (tmp_path / f"{TEXT_GRAPH}.onnx").exists()
