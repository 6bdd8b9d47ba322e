"""Streaming-engine behaviour: late prompts, re-conditioning, removal, bounded memory, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sam2auto_ros.core.propagation import Prompt, PropagationError, Propagator
from sam2auto_ros.sam2.engine import Sam2StreamEngine
from sam2auto_ros.sam2.image import encode_frame
from sam2auto_ros.sam2.loading import build_model
from sam2auto_ros.sam2.parts import Sam2Parts, TorchSam2Parts

from .conftest import MODEL
from .scenario import ellipse_mask, synthetic_video

BOX = Prompt(box=[40.0, 60.0, 110.0, 200.0])
POINTS = Prompt(points=np.array([[200.0, 110.0]]), point_labels=np.array([1]))


@pytest.fixture(scope="module")
def parts(tiny_checkpoint: Path) -> TorchSam2Parts:
    return TorchSam2Parts(build_model(MODEL, checkpoint=tiny_checkpoint, image_size=256))


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return synthetic_video(24)


def test_engine_is_a_propagator(parts: TorchSam2Parts) -> None:
    engine = Sam2StreamEngine(parts)
    assert isinstance(engine, Propagator)
    assert isinstance(parts, Sam2Parts)
    assert engine.frame_index == -1 and engine.object_ids == []


def test_step_returns_every_object_with_scores(parts: TorchSam2Parts, frames: list[np.ndarray]) -> None:
    engine = Sam2StreamEngine(parts)
    assert engine.step(frames[0]) == {}
    first = engine.add_object(7, BOX)
    assert first.frame_index == 0 and first.mask.shape == frames[0].shape[:2] and first.mask.dtype == bool
    engine.add_object(9, POINTS)
    out = engine.step(frames[1])
    assert sorted(out) == [7, 9]
    for obj_id, pred in out.items():
        assert pred.obj_id == obj_id and pred.frame_index == 1
        assert pred.logits is not None and pred.logits.shape == frames[1].shape[:2]
        assert np.array_equal(pred.mask, pred.logits > 0)
        assert 0.0 <= pred.iou <= 1.0 and np.isfinite(pred.object_score)
    assert not np.array_equal(out[7].logits, out[9].logits)


def test_late_prompt_equals_a_prompt_given_in_time(parts: TorchSam2Parts, frames: list[np.ndarray]) -> None:
    """A detection for frame 2 that arrives at frame 5 ends where an on-time one would."""
    on_time = Sam2StreamEngine(parts)
    for f in range(6):
        on_time.step(frames[f])
        if f == 2:
            on_time.add_object(1, BOX)
    expected = on_time.step(frames[6])[1]

    late = Sam2StreamEngine(parts)
    for f in range(6):
        late.step(frames[f])
    at_arrival = late.add_object(1, BOX, frame_index=2)
    assert at_arrival.frame_index == 5
    got = late.step(frames[6])[1]
    np.testing.assert_allclose(got.logits, expected.logits, atol=1e-5)
    assert got.object_score == pytest.approx(expected.object_score, abs=1e-5)


def test_prompt_older_than_the_ring_is_refused(parts: TorchSam2Parts, frames: list[np.ndarray]) -> None:
    engine = Sam2StreamEngine(parts, ring_frames=3)
    for f in range(6):
        engine.step(frames[f])
    assert engine.oldest_promptable_frame == 3
    with pytest.raises(PropagationError, match=r"frame 2 is not promptable.*3\.\.5.*ring_frames=3"):
        engine.add_object(1, BOX, frame_index=2)
    with pytest.raises(PropagationError, match="not promptable"):
        engine.add_object(1, BOX, frame_index=6)
    assert engine.object_ids == []
    assert engine.add_object(1, BOX, frame_index=3).frame_index == 5


def test_reconditioning_with_a_mask_takes_the_mask(parts: TorchSam2Parts, frames: list[np.ndarray]) -> None:
    engine = Sam2StreamEngine(parts)
    engine.step(frames[0])
    engine.add_object(1, BOX)
    for f in range(1, 4):
        engine.step(frames[f])
    target = ellipse_mask(160, 120, 40, 30)
    pred = engine.add_object(1, Prompt(mask=target))
    iou = np.logical_and(pred.mask, target).sum() / np.logical_or(pred.mask, target).sum()
    assert iou > 0.95  # mask prompts are taken as the output (SAM 2's mask-as-output path)
    assert pred.object_score > 0 and pred.iou == 1.0
    assert engine.memory_stats()["cond_memories"] == 2
    # the next frame is tracked from both conditioning frames
    assert engine.step(frames[4])[1].frame_index == 4


def test_reconditioning_changes_tracking_and_cond_frames_stay_bounded(parts: TorchSam2Parts, frames: list[np.ndarray]) -> None:
    plain, corrected = Sam2StreamEngine(parts, max_cond_frames=2), Sam2StreamEngine(parts, max_cond_frames=2)
    for engine in (plain, corrected):
        engine.step(frames[0])
        engine.add_object(1, BOX)
    for f in range(1, 8):
        plain.step(frames[f])
        corrected.step(frames[f])
        if f % 2 == 0:
            corrected.add_object(1, Prompt(points=np.array([[80.0 + f, 120.0]]), point_labels=np.array([1])))
    assert corrected.memory_stats()["cond_memories"] == 2  # first + latest; older ones demoted
    assert not np.allclose(plain.step(frames[8])[1].logits, corrected.step(frames[8])[1].logits)


def test_removal_frees_the_object_and_leaves_others_unchanged(parts: TorchSam2Parts, frames: list[np.ndarray]) -> None:
    alone, pair = Sam2StreamEngine(parts), Sam2StreamEngine(parts)
    for engine in (alone, pair):
        engine.step(frames[0])
        engine.add_object(1, BOX)
    pair.add_object(2, POINTS)
    for f in range(1, 5):
        alone.step(frames[f])
        pair.step(frames[f])
    pair.remove_object(2)
    assert pair.object_ids == [1]
    assert pair.memory_stats()["objects"] == 1
    with pytest.raises(PropagationError, match=r"unknown object id 2.*\[1\]"):
        pair.remove_object(2)
    a, b = alone.step(frames[5]), pair.step(frames[5])
    assert list(b) == [1]
    np.testing.assert_allclose(b[1].logits, a[1].logits, atol=1e-4)


def test_memory_stops_growing(tiny_checkpoint: Path) -> None:
    """Ring, per-object memories and their bytes reach a ceiling and stay there (small input: 128 px)."""
    parts = TorchSam2Parts(build_model(MODEL, checkpoint=tiny_checkpoint, image_size=128))
    engine = Sam2StreamEngine(parts, max_cond_frames=2, ring_frames=3)
    video = synthetic_video(60)
    engine.step(video[0])
    engine.add_object(1, BOX)
    engine.add_object(2, POINTS)
    stats = []
    for f in range(1, 60):
        engine.step(video[f])
        if f % 7 == 0:
            engine.add_object(1, Prompt(box=[40.0 + f % 5, 60.0, 110.0, 200.0]), frame_index=f - 1)
        stats.append(engine.memory_stats())
    limit = engine.keep_frames + engine.max_cond_frames
    assert all(s["ring_frames"] <= 3 and s["cond_memories"] <= 4 for s in stats)
    assert max(s["max_memories_per_object"] for s in stats) <= limit
    settled = stats[engine.keep_frames + 5 :]
    assert len({s["memories"] for s in settled}) <= 2 and len({s["ring_bytes"] for s in settled}) == 1
    assert max(s["memory_bytes"] for s in settled) <= min(s["memory_bytes"] for s in settled) * 1.1


def test_frame_features_are_the_encoders_output(parts: TorchSam2Parts, frames: list[np.ndarray]) -> None:
    engine = Sam2StreamEngine(parts, ring_frames=2)
    for f in range(3):
        engine.step(frames[f])
    feats = engine.frame_features()
    assert feats.frame_index == 2 and feats.orig_hw == frames[2].shape[:2]
    assert feats.image_embed.shape == (1, 256, 16, 16)
    assert [tuple(h.shape) for h in feats.high_res_feats] == [(1, 32, 64, 64), (1, 64, 32, 32)]
    fresh = encode_frame(parts, frames[2])
    assert torch.equal(fresh.image_embed, feats.image_embed)
    assert engine.frame_features(1).frame_index == 1
    with pytest.raises(PropagationError, match="not in the feature ring"):
        engine.frame_features(0)


BAD_PROMPTS = [
    (Prompt(box=[50.0, 50.0, 50.0, 90.0]), "is empty"),
    (Prompt(box=[400.0, 300.0, 500.0, 400.0]), "outside the 320x240 frame"),
    (Prompt(box=[10.0, float("nan"), 50.0, 90.0]), "NaN"),
    (Prompt(box=[1.0, 2.0, 3.0]), r"\[x_min, y_min, x_max, y_max\]"),
    (Prompt(points=np.array([[np.nan, 3.0]]), point_labels=np.array([1])), "NaN"),
    (Prompt(points=np.array([[10.0, 3.0]])), "need point_labels"),
    (Prompt(points=np.array([[10.0, 3.0]]), point_labels=np.array([1, 0])), "one 0/1 label per point"),
    (Prompt(points=np.array([[10.0, 300.0]]), point_labels=np.array([1])), "outside"),
    (Prompt(mask=np.ones((10, 10), dtype=bool)), r"shape \(10, 10\), the frame is \(240, 320\)"),
    (Prompt(mask=np.zeros((240, 320), dtype=bool)), "empty"),
    (Prompt(mask=np.ones((240, 320), dtype=bool), box=[1.0, 2.0, 30.0, 40.0]), "not both"),
    (Prompt(), "empty prompt"),
]


def test_bad_input_is_refused_and_the_engine_stays_usable(parts: TorchSam2Parts, frames: list[np.ndarray]) -> None:
    engine, clean = Sam2StreamEngine(parts), Sam2StreamEngine(parts)
    with pytest.raises(PropagationError, match="call step"):
        engine.add_object(1, BOX)
    for other in (engine, clean):
        other.step(frames[0])
        other.add_object(1, BOX)
    for image, match in [
        (frames[1][:, :, 0], r"shape \(H, W, 3\)"),
        (frames[1].astype(np.float32), "must be uint8"),
        (frames[1].tolist(), "numpy array"),
        (np.zeros((100, 100, 3), np.uint8), "frame size changed"),
    ]:
        with pytest.raises(PropagationError, match=match):
            engine.step(image)  # type: ignore[arg-type]
    for prompt, match in BAD_PROMPTS:
        with pytest.raises(PropagationError, match=match):
            engine.add_object(2, prompt)
        with pytest.raises(PropagationError, match=match):
            engine.add_object(1, prompt)  # a bad re-conditioning leaves object 1 as it was
    for bad_id in ("car", True, 1.5):
        with pytest.raises(PropagationError, match="object id must be an int"):
            engine.add_object(bad_id, BOX)  # type: ignore[arg-type]
    with pytest.raises(PropagationError, match="must be a sam2auto_ros.core.propagation.Prompt"):
        engine.add_object(2, {"box": [1, 2, 3, 4]})  # type: ignore[arg-type]
    with pytest.raises(PropagationError, match="frame_index must be an int"):
        engine.add_object(2, BOX, frame_index="0")  # type: ignore[arg-type]
    with pytest.raises(PropagationError, match="unknown object id 5"):
        engine.remove_object(5)
    assert engine.object_ids == [1] and engine.frame_index == 0
    got, want = engine.step(frames[1]), clean.step(frames[1])
    np.testing.assert_array_equal(got[1].logits, want[1].logits)
    engine.reset()
    assert engine.frame_index == -1 and engine.object_ids == []
    assert engine.step(np.zeros((100, 100, 3), np.uint8)) == {}
