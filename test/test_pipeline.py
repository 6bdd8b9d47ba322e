"""The offline pipeline: the embedded weight-free default, the real SAM 2 engine when a checkpoint
exists (random weights in the released format), timing, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from sam2auto_ros.core.instance import FrameInstances
from sam2auto_ros.fallback import OpticalFlowPropagator
from sam2auto_ros.pipeline import Pipeline, PipelineError, PipelineFrame, SimDetector
from sam2auto_ros.sim import CLASS_NAMES, make_scene
from test.test_annotate_bag import idf1


@pytest.fixture(scope="module")
def scene():
    return make_scene("crossing", seed=5, n_frames=40, height=128, width=128)


def _frames(scene, count=None):
    for f in list(scene.frames())[:count]:
        yield PipelineFrame(f.image, f.stamp_ns, f.gt, "sim")


def test_embedded_default_runs_without_weights_and_says_so(scene, tmp_path, monkeypatch):
    monkeypatch.setenv("SAM2AUTO_MODELS_DIR", str(tmp_path))  # an empty model folder
    pipeline = Pipeline.create(CLASS_NAMES, models_dir=str(tmp_path))
    info = pipeline.describe()
    assert (info["backend"], info["detector"], info["model"]) == ("flow-fallback", "sim-noise-model", "")
    out = pipeline.run(_frames(scene))
    truth = [f.gt for f in scene.frames()]
    assert len(out.tracks) == len(out.detections) == 40
    assert [t.stamp_ns for t in out.tracks] == [g.stamp_ns for g in truth]
    assert idf1(out.tracks, truth) > 0.8  # weight-free backend; 0.97 measured on this seed
    assert all(i.label in CLASS_NAMES for f in out.tracks for i in f.instances)
    t = out.timing
    assert t.frames == 40 and 0 < t.propagator_s <= t.tracking_s and t.detector_s > 0


def test_online_mode_and_detector_stride(scene):
    pipeline = Pipeline(SimDetector(CLASS_NAMES), OpticalFlowPropagator(), CLASS_NAMES, detect_every=3)
    out = pipeline.run(_frames(scene, 12), offline=False)
    assert len(out.detections) == 4 and len(out.tracks) == 12  # frames 0, 3, 6, 9 detected


def test_class_filter_keeps_only_asked_labels(scene):
    detector = SimDetector(["ball"])
    for f in list(scene.frames())[:10]:
        assert all(i.label == "ball" for i in detector.detect(f.image, f.stamp_ns, f.gt).instances)


def test_clear_errors():
    with pytest.raises(PipelineError, match="unknown backend 'tpu'"):
        Pipeline.create(backend="tpu")
    with pytest.raises(PipelineError, match="unknown detector"):
        Pipeline.create(detector="yolo")
    with pytest.raises(PipelineError, match="needs ground truth"):
        SimDetector().detect(np.zeros((8, 8, 3), np.uint8), 0, None)
    with pytest.raises(PipelineError, match="SMART-OD cannot be built"):  # no detector model configured
        Pipeline.create(detector="smart-od")
    with pytest.raises(PipelineError, match="no frames"):
        Pipeline(SimDetector(), OpticalFlowPropagator()).run([])


def test_a_smart_od_file_that_cannot_build_is_an_error_not_a_silent_switch(tmp_path):
    config = tmp_path / "smart_od.yaml"
    config.write_text("smart_od_node:\n  ros__parameters:\n    detector: {backend: onnx, model: /nonexistent.onnx}\n")
    with pytest.raises(PipelineError, match="SMART-OD cannot be built"):
        Pipeline.create(["ball"], backend="fallback", smart_od_config=str(config))
    assert Pipeline.create(["ball"], backend="fallback").describe()["detector"] == "sim-noise-model"  # no file: default
    with pytest.raises(PipelineError, match="detect_every"):
        Pipeline(SimDetector(), OpticalFlowPropagator(), detect_every=0)


def test_missing_checkpoint_named_when_sam2_is_asked_for(tmp_path, monkeypatch):
    monkeypatch.setenv("SAM2AUTO_MODELS_DIR", str(tmp_path))
    with pytest.raises(PipelineError, match="sam2.1_hiera_tiny.pt not found"):
        Pipeline.create(backend="sam2", models_dir=str(tmp_path))


@pytest.mark.slow
def test_sam2_engine_is_used_when_a_checkpoint_is_present(scene, tmp_path, monkeypatch):
    import torch

    torch.set_num_threads(2)
    from sam2auto_ros.sam2.loading import save_random_checkpoint
    from sam2auto_ros.sam2.registry import checkpoint_info

    info = checkpoint_info("sam2.1_hiera_tiny")
    save_random_checkpoint(tmp_path / info.filename, info.config, image_size=256)
    monkeypatch.setenv("SAM2AUTO_MODELS_DIR", str(tmp_path))
    pipeline = Pipeline.create(CLASS_NAMES, image_size=256)
    assert (pipeline.describe()["backend"], pipeline.describe()["model"]) == ("sam2-torch", "sam2.1_hiera_tiny")
    out = pipeline.run(_frames(scene, 2), offline=False)  # random weights: wiring, not accuracy
    assert len(out.tracks) == 2 and all(isinstance(f, FrameInstances) for f in out.tracks)
    assert out.timing.propagator_s > 0


def test_smart_od_is_used_when_its_detector_model_is_configured(fixed_smart_od_config):
    """SMART-OD through SmartOD.from_params with a real onnxruntime detector (the SMART-OD tests'
    fixed-output model of the YOLO-World export signature), boxes only, FLASH on the fallback."""
    pipeline = Pipeline.create(["ball", "box"], backend="fallback", smart_od_config=fixed_smart_od_config)
    assert pipeline.describe()["detector"] == "smart-od" and not pipeline.needs_truth
    image = np.full((64, 64, 3), 90, np.uint8)
    frames = [PipelineFrame(image, 1_000 + i) for i in range(8)]  # no ground truth needed
    out = pipeline.run(frames, offline=False)
    labels = sorted(i.label for i in out.detections[0].instances)
    assert labels == ["ball", "box"]
    ball = next(i for i in out.detections[0].instances if i.label == "ball")
    assert np.allclose(ball.box, [12, 12, 28, 28], atol=1.0)
    assert {i.label for i in out.tracks[-1].instances} == {"ball", "box"}  # confirmed as tracks
