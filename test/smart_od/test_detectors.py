"""Detector backends on tiny random models (real processors, real onnxruntime), and sanitising."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sam2auto_ros.smart_od.config import ConfigError, DetectorConfig
from sam2auto_ros.smart_od.detectors import DetectorError, RawDetections, build_detector, sanitize
from sam2auto_ros.smart_od.detectors.hf import GroundingDinoDetector
from sam2auto_ros.smart_od.detectors.onnx import OnnxDetector
from sam2auto_ros.smart_od.detectors.owlv2 import Owlv2Detector, TorchOwlv2Towers
from test.smart_od.tiny_detectors import export_fixed_detector, tiny_grounding_dino, tiny_owlv2

torch.set_num_threads(2)
IMAGE = np.random.default_rng(0).integers(0, 255, (48, 80, 3), dtype=np.uint8)


def _check_instances(instances, names, hw=(48, 80)):
    for inst in instances:
        assert inst.mask is None and inst.label in names and names[inst.class_id] == inst.label
        assert 0.0 <= inst.score <= 1.0
        x0, y0, x1, y1 = inst.box
        assert 0 <= x0 < x1 <= hw[1] and 0 <= y0 < y1 <= hw[0]
    scores = [i.score for i in instances]
    assert scores == sorted(scores, reverse=True)


@pytest.fixture(scope="module")
def owl_dir(tmp_path_factory):
    """Random OWLv2 whose box head is hand-set to add nothing to OWLv2's per-patch box prior, so
    every patch predicts its own grid cell: known boxes, some inside the image, some not."""
    model, processor = tiny_owlv2()
    with torch.no_grad():
        model.box_head.dense2.weight.zero_()
        model.box_head.dense2.bias.zero_()
    path = tmp_path_factory.mktemp("owlv2")
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


def _owl_prior_boxes(det: Owlv2Detector, image: np.ndarray) -> np.ndarray:
    """The model's own boxes for ``image`` in pixels of the padded square, clipped to the image;
    cells that fall outside it are dropped."""
    with torch.no_grad():
        inputs = det.processor(text=[["cat"]], images=image, return_tensors="pt", padding="max_length", max_length=16)
        cxcywh = det.towers.model(**inputs).pred_boxes[0].numpy() * max(image.shape[:2])
    h, w = image.shape[:2]
    xyxy = np.concatenate([cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, :2] + cxcywh[:, 2:] / 2], axis=1)
    xyxy = np.clip(xyxy, 0, [w, h, w, h])
    return xyxy[(xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])]


def test_owlv2_from_directory_through_config(owl_dir):
    det = build_detector(DetectorConfig(backend="owlv2", model=str(owl_dir), score_floor=0.0, nms_iou=1.0))
    assert isinstance(det, Owlv2Detector)
    instances, report = det.detect_with_report(IMAGE, ["cat", "dog"])
    assert report.raw == det.towers.model.config.vision_config.image_size**2 // 16**2  # one box per patch
    assert report.kept + report.empty_after_clip + report.non_finite + report.below_floor == report.raw
    expected = _owl_prior_boxes(det, IMAGE)
    assert 0 < len(expected) < report.raw  # the padded square's lower cells lie outside the 48 px image
    assert report.kept == len(instances) == len(expected)
    got = np.array(sorted(tuple(i.box) for i in instances))
    assert np.allclose(got, np.array(sorted(map(tuple, expected))), atol=1e-3)
    _check_instances(instances, ["cat", "dog"])
    cars = det.detect(IMAGE, ["car"])  # the vocabulary changes per call
    assert len(cars) == len(expected) and {i.label for i in cars} == {"car"}


def test_owlv2_boxes_are_scaled_to_the_padded_square():
    """Rows of the processor output are in the padded square frame: a box the model places at
    the square's right half lands outside an image wider than tall only when the image is tall."""
    model, processor = tiny_owlv2()
    det = Owlv2Detector(TorchOwlv2Towers(model), processor, score_floor=0.0, nms_iou=1.0)
    tall = np.zeros((80, 40, 3), dtype=np.uint8)
    raw = det._predict(tall, ["cat"])
    with torch.no_grad():
        inputs = processor(text=[["cat"]], images=tall, return_tensors="pt", padding="max_length", max_length=16)
        centres = model(**inputs).pred_boxes[0].numpy()
    expected_cx = centres[:, 0] * 80
    assert np.allclose((raw.boxes[:, 0] + raw.boxes[:, 2]) / 2, expected_cx, atol=1e-3)


def test_grounding_dino_class_scores_follow_token_spans(tmp_path):
    model, processor = tiny_grounding_dino()
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    det = build_detector(DetectorConfig(backend="grounding_dino", model=str(tmp_path), score_floor=0.0, nms_iou=1.0))
    assert isinstance(det, GroundingDinoDetector)
    names = ["cat", "red dog"]
    raw = det._predict(IMAGE, names)
    assert len(raw.scores) == model.config.num_queries
    with torch.no_grad():
        inputs = processor(images=IMAGE, text="cat. red dog.", return_tensors="pt")
        probs = model(**inputs).logits[0].sigmoid().numpy()
    ids = inputs["input_ids"][0].tolist()  # [CLS] cat . red dog . [SEP]
    cat, red_dog = [ids.index(6)], [ids.index(10), ids.index(7)]
    expected = np.stack([probs[:, cat].max(1), probs[:, red_dog].max(1)], axis=1)
    assert np.allclose(raw.scores, expected.max(1), atol=1e-5)
    assert np.array_equal(raw.class_ids, expected.argmax(1))
    _check_instances(det.detect(IMAGE, names), names)


def test_grounding_dino_rejects_classes_beyond_the_text_length():
    det = GroundingDinoDetector(*tiny_grounding_dino())
    with pytest.raises(DetectorError, match="no tokens"):
        det.detect(IMAGE, ["cat"] + [f"dog{i}" for i in range(20)])


def test_onnx_letterbox_inverse_and_metadata_names(tmp_path):
    # two boxes in the 64 px letterboxed input of a 50 x 100 image (scale 0.64, 16 px top pad)
    table = np.array([[32, 32, 20, 10, 0.9, 0.1], [10, 10, 4, 4, 0.2, 0.6]], dtype=np.float32)
    path = export_fixed_detector(tmp_path / "det.onnx", table, ["cat", "dog"])
    det = build_detector(DetectorConfig(backend="onnx", model=str(path), score_floor=0.0))
    assert isinstance(det, OnnxDetector) and det.vocabulary == ["cat", "dog"] and det.input_size == 64
    image = np.zeros((50, 100, 3), dtype=np.uint8)
    instances, report = det.detect_with_report(image, ["cat", "dog"])
    assert report.empty_after_clip == 1  # the second box lies in the top padding
    assert len(instances) == 1 and instances[0].label == "cat"
    assert np.allclose(instances[0].box, [22 / 0.64, 11 / 0.64, 42 / 0.64, 21 / 0.64], atol=1e-3)
    only_dog = det.detect(image, ["dog"])
    assert [i.label for i in only_dog] == ["dog"] and only_dog[0].score == pytest.approx(0.1)
    with pytest.raises(DetectorError, match="export vocabulary"):
        det.detect(image, ["zebra"])


def test_onnx_without_names_needs_them_given(tmp_path):
    table = np.array([[32, 32, 20, 10, 0.9]], dtype=np.float32)
    path = export_fixed_detector(tmp_path / "det.onnx", table, [], names_metadata=False)
    with pytest.raises(DetectorError, match="names"):
        OnnxDetector(path)
    assert OnnxDetector(path, class_names=["cat"]).detect(np.zeros((64, 64, 3), np.uint8), ["cat"])[0].label == "cat"
    with pytest.raises(DetectorError, match="does not exist"):
        OnnxDetector(tmp_path / "missing.onnx")


def test_sanitize_drops_nan_and_clips_out_of_frame():
    raw = RawDetections(
        boxes=np.array([[10, 10, 20, 20], [-5, -5, 30, 200], [0, 0, np.inf, 5], [50, 50, 60, 60], [200, 200, 300, 300], [5, 5, 9, 9]]),
        scores=np.array([0.9, 0.8, 0.7, np.nan, 0.6, 1.7]),
        class_ids=np.array([0, 1, 0, 0, 1, 0]),
    )
    instances, report = sanitize(raw, ["a", "b"], (100, 100), score_floor=0.0, nms_iou=0.7, max_detections=10)
    assert report.non_finite == 2 and report.empty_after_clip == 1 and report.clipped == 2
    assert [tuple(i.box) for i in instances] == [(5, 5, 9, 9), (10, 10, 20, 20), (0, 0, 30, 100)]
    assert instances[0].score == 1.0  # clipped into [0, 1]


def test_class_aware_nms_and_max_detections():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 11], [0, 0, 10, 10], [50, 50, 60, 60]])
    raw = RawDetections(boxes, np.array([0.9, 0.8, 0.7, 0.6]), np.array([0, 0, 1, 0]))
    kept, report = sanitize(raw, ["a", "b"], (100, 100), 0.0, 0.7, 10)
    assert [(i.label, i.score) for i in kept] == [("a", 0.9), ("b", pytest.approx(0.7)), ("a", pytest.approx(0.6))]
    assert report.nms_suppressed == 1
    top, report = sanitize(raw, ["a", "b"], (100, 100), 0.0, 0.7, 2)
    assert len(top) == 2 and report.over_max == 1


@pytest.mark.parametrize(
    "image, message",
    [
        ([[0, 0, 0]], "numpy array"),
        (np.zeros((10, 10), np.uint8), "shape"),
        (np.zeros((10, 10, 4), np.uint8), "shape"),
        (np.zeros((10, 10, 3), np.float32), "uint8"),
    ],
)
def test_bad_images_are_named(image, message, tmp_path):
    table = np.array([[32, 32, 20, 10, 0.9]], dtype=np.float32)
    det = OnnxDetector(export_fixed_detector(tmp_path / "d.onnx", table, ["cat"]))
    with pytest.raises(DetectorError, match=message):
        det.detect(image, ["cat"])


def test_bad_class_lists_and_backends(tmp_path):
    table = np.array([[32, 32, 20, 10, 0.9]], dtype=np.float32)
    det = OnnxDetector(export_fixed_detector(tmp_path / "d.onnx", table, ["cat"]))
    image = np.zeros((20, 20, 3), np.uint8)
    for names, message in (([], "empty"), ("cat", "not one string"), (["cat", "cat"], "duplicates"), (["cat", " "], "empty name")):
        with pytest.raises(DetectorError, match=message):
            det.detect(image, names)
    with pytest.raises(ConfigError, match="unknown detector.backend 'yolo'"):
        DetectorConfig(backend="yolo")
    cfg = DetectorConfig()
    cfg.backend = "yolo"
    with pytest.raises(DetectorError, match="unknown detector backend"):
        build_detector(cfg)
    with pytest.raises(DetectorError, match="detector.model is empty"):
        build_detector(DetectorConfig(backend="owlv2", model=""))
    with pytest.raises(DetectorError, match="cannot load"):
        build_detector(DetectorConfig(backend="grounding_dino", model=str(tmp_path / "nothing")))
