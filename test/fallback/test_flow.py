"""The weight-free fallback propagator against simulated ground truth, and its contract."""

from __future__ import annotations

import numpy as np
import pytest

from sam2auto_ros.core.propagation import Prompt, PropagationError, Propagator
from sam2auto_ros.fallback import OpticalFlowPropagator
from sam2auto_ros.sim import Scene, SceneConfig, make_scene


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


@pytest.fixture(scope="module")
def moving():
    """Two textured objects moving and turning under lighting change and camera shake, never hidden."""
    config = SceneConfig(seed=3, n_frames=40, n_objects=2, lookalike_pairs=0, exit_fraction=0.0,
                         speed=2.5, lighting=0.2, jitter=2.0, noise=2.0)
    return list(Scene(config).frames())


def _start(frames, index=0, **kwargs) -> OpticalFlowPropagator:
    prop = OpticalFlowPropagator(**kwargs)
    for frame in frames[: index + 1]:
        prop.step(frame.image)
    return prop


def test_implements_the_propagator_protocol_as_a_named_fallback():
    prop = OpticalFlowPropagator()
    assert isinstance(prop, Propagator)
    assert prop.name == "flow-fallback"
    assert prop.frame_index == -1 and prop.object_ids == []


def test_follows_moving_textured_objects(moving):
    assert all(f.visible_area[g] == f.unoccluded_area[g] > 0 for f in moving for g in (1, 2))  # as intended
    prop = _start(moving)
    for inst in moving[0].gt.instances:
        first = prop.add_object(inst.track_id, Prompt(mask=inst.mask.to_array()))
        assert first.frame_index == 0 and first.visible
    ious = {1: [], 2: []}
    for frame in moving[1:31]:
        preds = prop.step(frame.image)
        assert sorted(preds) == [1, 2]
        for gid, pred in preds.items():
            assert pred.frame_index == frame.index and pred.mask.dtype == bool
            assert pred.object_score > 0 and 0.0 < pred.iou <= 1.0
            ious[gid].append(_iou(pred.mask, frame.id_map == gid))
    for gid, values in ious.items():
        assert np.mean(values) > 0.85, (gid, np.round(values, 2))
        assert min(values) > 0.7, (gid, np.round(values, 2))


def test_same_input_same_output(moving):
    runs = []
    for _ in range(2):
        prop = _start(moving)
        prop.add_object(5, Prompt(mask=moving[0].id_map == 1))
        runs.append([prop.step(f.image)[5].mask for f in moving[1:12]])
    assert all(np.array_equal(a, b) for a, b in zip(*runs))


def test_object_that_leaves_the_frame_scores_negative():
    frames = list(make_scene("reentry", seed=0, n_frames=120).frames())
    gid = next(g for g in range(1, 4) if frames[0].visible_area[g] > 200)
    out = next(t for t in range(1, 120) if frames[t].unoccluded_area[gid] == 0)
    prop = _start(frames)
    prop.add_object(gid, Prompt(mask=frames[0].id_map == gid))
    scores = [prop.step(f.image)[gid].object_score for f in frames[1 : out + 15]]
    assert scores[0] > 0
    assert all(s < 0 for s in scores[out + 1 :])  # gone, and it stays gone while out of view


def test_fully_occluded_object_scores_negative():
    frames = list(make_scene("occlusion", seed=2, n_frames=80).frames())
    # an object that is clearly visible at first and completely hidden later
    gid, hidden = next(
        (g, t) for g in range(2, len(frames[0].visible_area)) for t in range(1, 80)
        if frames[0].visible_area[g] > 200 and frames[t].visible_area[g] == 0 < frames[t].unoccluded_area[g]
    )
    prop = _start(frames)
    prop.add_object(gid, Prompt(mask=frames[0].id_map == gid))
    for frame in frames[1 : hidden + 1]:
        pred = prop.step(frame.image)[gid]
    assert pred.object_score < 0 and not pred.visible


def test_late_add_conditions_on_the_older_frame_and_catches_up(moving):
    prop = _start(moving, index=10)
    late = prop.add_object(3, Prompt(mask=moving[4].id_map == 1), frame_index=4)
    assert late.frame_index == 10
    assert _iou(late.mask, moving[10].id_map == 1) > 0.8
    # the same object tracked live from frame 4 lands in the same place
    live = _start(moving, index=4)
    live.add_object(3, Prompt(mask=moving[4].id_map == 1))
    for frame in moving[5:11]:
        reference = live.step(frame.image)[3]
    assert _iou(late.mask, reference.mask) > 0.9
    # and it keeps being tracked from there
    assert _iou(prop.step(moving[11].image)[3].mask, moving[11].id_map == 1) > 0.8


def test_frames_outside_the_ring_are_refused(moving):
    prop = _start(moving, index=12, history=4)
    assert prop.oldest_promptable_frame == 9 and prop.frame_index == 12
    with pytest.raises(PropagationError, match=r"9\.\.12"):
        prop.add_object(1, Prompt(mask=moving[8].id_map == 1), frame_index=8)
    with pytest.raises(PropagationError, match="not promptable"):
        prop.add_object(1, Prompt(mask=moving[8].id_map == 1), frame_index=13)
    with pytest.raises(PropagationError, match="step"):
        OpticalFlowPropagator().add_object(1, Prompt(mask=moving[0].id_map == 1))


def test_re_conditioning_replaces_the_object(moving):
    prop = _start(moving, index=3)
    prop.add_object(1, Prompt(mask=moving[3].id_map == 2))  # wrong object first
    fixed = prop.add_object(1, Prompt(mask=moving[3].id_map == 1))
    assert prop.object_ids == [1]
    assert _iou(fixed.mask, moving[3].id_map == 1) > 0.95


def test_remove_object_forgets_it_and_unknown_ids_are_refused(moving):
    prop = _start(moving)
    prop.add_object(1, Prompt(mask=moving[0].id_map == 1))
    prop.add_object(2, Prompt(mask=moving[0].id_map == 2))
    prop.remove_object(1)
    assert sorted(prop.step(moving[1].image)) == [2]
    with pytest.raises(PropagationError, match="unknown object id 1"):
        prop.remove_object(1)
    with pytest.raises(PropagationError, match="must be an int"):
        prop.add_object("7", Prompt(mask=moving[1].id_map == 1))


def test_bad_images_are_refused_and_the_propagator_stays_usable(moving):
    prop = _start(moving)
    prop.add_object(1, Prompt(mask=moving[0].id_map == 1))
    bad = [
        moving[1].image.astype(np.float32),
        moving[1].image[..., 0],
        moving[1].image[:100],
        "frame.png",
    ]
    for image in bad:
        with pytest.raises(PropagationError, match="image|frame size"):
            prop.step(image)
    assert prop.frame_index == 0
    pred = prop.step(moving[1].image)[1]
    assert _iou(pred.mask, moving[1].id_map == 1) > 0.8


@pytest.mark.parametrize(
    "prompt, fragment",
    [
        (Prompt(), "empty prompt"),
        (Prompt(mask=np.zeros((256, 256), bool)), "empty"),
        (Prompt(mask=np.ones((10, 10), bool)), r"\(256, 256\)"),
        (Prompt(box=[10, 10, 5, 40]), "box"),
        (Prompt(box=[1, 2, 3]), "4 finite"),
        (Prompt(points=np.array([[10.0, 10.0]]), point_labels=np.array([0])), "foreground"),
        (Prompt(points=np.array([1.0, 2.0, 3.0])), r"\(N, 2\)"),
    ],
)
def test_bad_prompts_name_the_problem(moving, prompt, fragment):
    prop = _start(moving)
    with pytest.raises(PropagationError, match=fragment):
        prop.add_object(1, prompt)
    assert prop.object_ids == []


def test_box_and_point_prompts_are_segmented_without_weights(moving):
    frame = moving[0]
    truth = frame.id_map == 1
    ys, xs = np.nonzero(truth)
    box = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    prop = _start(moving)
    from_box = prop.add_object(1, Prompt(box=box))
    assert _iou(from_box.mask, truth) > 0.6
    centre = np.array([[xs.mean(), ys.mean()]])
    from_points = prop.add_object(2, Prompt(points=centre, point_labels=np.array([1])))
    assert from_points.mask[int(centre[0, 1]), int(centre[0, 0])]


def test_memory_is_flat_over_a_long_stream(moving):
    prop = OpticalFlowPropagator(history=4)
    prop.step(moving[0].image)
    prop.add_object(1, Prompt(mask=moving[0].id_map == 1))
    prop.add_object(2, Prompt(mask=moving[0].id_map == 2))
    sizes = []
    for cycle in range(3):
        for frame in moving[1:] if cycle == 0 else moving:
            prop.step(frame.image)
        sizes.append(prop.memory_bytes())
    assert sizes[0] == sizes[1] == sizes[2]
    assert prop.frame_index == 3 * len(moving) - 1
    assert prop.oldest_promptable_frame == prop.frame_index - 3


def test_max_objects_and_reset(moving):
    prop = _start(moving, max_objects=1)
    prop.add_object(1, Prompt(mask=moving[0].id_map == 1))
    with pytest.raises(PropagationError, match="max_objects=1"):
        prop.add_object(2, Prompt(mask=moving[0].id_map == 2))
    prop.add_object(1, Prompt(mask=moving[0].id_map == 2))  # re-conditioning is not a new object
    prop.reset()
    assert prop.object_ids == [] and prop.frame_index == -1
    prop.step(moving[5].image[:128])  # a new sequence may have a new size
    assert prop.frame_index == 0


@pytest.mark.parametrize("kwargs", [{"history": 0}, {"visible_fraction": 1.5}, {"max_objects": 0}, {"match_threshold": 0}])
def test_bad_settings(kwargs):
    with pytest.raises(ValueError):
        OpticalFlowPropagator(**kwargs)
