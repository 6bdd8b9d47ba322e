"""The simulator: determinism, ground truth that matches the pixels, and the events each preset promises."""

from __future__ import annotations

import numpy as np
import pytest

from sam2auto_ros.sim import SCENE_PRESETS, Scene, SceneConfig, make_scene, scene_config


def _frames(name: str, **overrides):
    return list(make_scene(name, **overrides).frames())


def test_same_seed_gives_identical_frames_and_truth():
    a = _frames("mixed", seed=5, n_frames=25)
    b = _frames("mixed", seed=5, n_frames=25)
    for fa, fb in zip(a, b):
        assert np.array_equal(fa.image, fb.image)
        assert np.array_equal(fa.id_map, fb.id_map)
        assert fa.stamp_ns == fb.stamp_ns
        assert [(i.track_id, i.label, i.mask.counts) for i in fa.gt.instances] == [
            (i.track_id, i.label, i.mask.counts) for i in fb.gt.instances
        ]
    other = _frames("mixed", seed=6, n_frames=25)
    assert not np.array_equal(a[10].image, other[10].image)


def test_random_access_matches_iteration():
    scene = make_scene("mixed", seed=2, n_frames=12)
    iterated = list(scene.frames())
    again = scene.frame(7)
    assert np.array_equal(again.image, iterated[7].image)
    assert np.array_equal(again.id_map, iterated[7].id_map)
    with pytest.raises(IndexError):
        scene.frame(12)


@pytest.mark.parametrize("name", sorted(SCENE_PRESETS))
def test_truth_masks_match_the_rendered_pixels(name):
    # without lighting and noise, background pixels are exactly the backdrop and object pixels are not
    scene = make_scene(name, seed=1, n_frames=40, lighting=0.0, noise=0.0)
    for frame in list(scene.frames())[::7]:
        backdrop = scene.background(frame.index)
        background = frame.id_map == 0
        assert np.array_equal(frame.image[background], backdrop[background])
        changed = np.any(frame.image != backdrop, axis=2)
        if (~background).any():
            assert changed[~background].mean() > 0.9
        for inst in frame.gt.instances:
            mask = inst.mask.to_array()
            assert np.array_equal(mask, frame.id_map == inst.track_id)
            assert inst.mask.area == frame.visible_area[inst.track_id]
            assert inst.label == scene.labels[inst.track_id]
            assert inst.score == 1.0
        listed = {inst.track_id for inst in frame.gt.instances}
        for obj in scene.objects:
            assert frame.visible_area[obj.gt_id] <= frame.unoccluded_area[obj.gt_id]
            if obj.gt_id not in listed:
                assert frame.visible_area[obj.gt_id] < scene.config.min_visible_area


def test_crossing_lookalikes_meet_and_one_hides_part_of_the_other():
    scene = make_scene("crossing", seed=0, n_frames=120)
    pairs = {}
    for obj in scene.objects:
        pairs.setdefault(obj.appearance_id, []).append(obj)
    twins = [p for p in pairs.values() if len(p) == 2]
    assert len(twins) == 2 and all(a.label == b.label for a, b in twins)
    frames = list(scene.frames())
    for a, b in twins:
        overlapped = [f for f in frames if min(f.visible_area[a.gt_id], f.visible_area[b.gt_id]) > 0
                      and min(f.visible_area[g] / f.unoccluded_area[g] for g in (a.gt_id, b.gt_id)) < 0.7]
        assert overlapped, f"look-alikes {a.gt_id} and {b.gt_id} never cross"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_occlusion_preset_hides_an_object_completely_and_reveals_it(seed):
    frames = _frames("occlusion", seed=seed, n_frames=150)
    hidden_then_back = 0
    for gid in range(2, len(frames[0].visible_area)):
        state = ["in" if f.unoccluded_area[gid] > 0 and f.visible_area[gid] == 0 else
                 "vis" if f.visible_area[gid] > 50 else "-" for f in frames]
        for t in range(1, len(state) - 1):
            if state[t] == "in" and "vis" in state[:t] and "vis" in state[t + 1 :]:
                hidden_then_back += 1
                break
    assert hidden_then_back >= 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reentry_preset_objects_leave_the_frame_and_come_back(seed):
    frames = _frames("reentry", seed=seed, n_frames=200)
    returned = 0
    for gid in range(1, len(frames[0].visible_area)):
        inside = np.array([f.unoccluded_area[gid] > 0 for f in frames])
        leaves = np.flatnonzero(inside[:-1] & ~inside[1:])
        if any(inside[t + 5 :].any() and not inside[t + 1 : t + 6].any() for t in leaves):
            returned += 1
    assert returned >= 2


def test_mixed_preset_has_lookalikes_lighting_and_shake():
    scene = make_scene("mixed", seed=3, n_frames=120)
    assert len({o.appearance_id for o in scene.objects}) < len(scene.objects)
    brightness = [scene.frame(t).image.mean() for t in range(0, 120, 10)]
    assert max(brightness) - min(brightness) > 10
    backdrops = [scene.background(t) for t in range(0, 30)]
    assert any(not np.array_equal(backdrops[0], b) for b in backdrops[1:])


def test_any_frame_size_renders_with_scaled_objects():
    small = make_scene("mixed", seed=4, n_frames=3)
    big = make_scene("mixed", seed=4, n_frames=3, height=480, width=640)
    frame = big.frame(0)
    assert frame.image.shape == (480, 640, 3) and frame.id_map.shape == (480, 640)
    assert (frame.gt.height, frame.gt.width) == (480, 640)
    ratio = frame.unoccluded_area[1:].sum() / max(small.frame(0).unoccluded_area[1:].sum(), 1)
    assert 2.0 < ratio < 6.0  # area grows with (480/256)^2 ~ 3.5, give or take edge clipping


def test_stamps_follow_the_frame_rate():
    scene = Scene(SceneConfig(n_frames=4, fps=10.0, start_ns=5))
    assert [f.stamp_ns for f in scene.frames()] == [5, 100_000_005, 200_000_005, 300_000_005]


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"layout": "spiral"}, "layout"),
        ({"lookalike_pairs": 3, "n_objects": 5}, "look-alike"),
        ({"height": 8}, "smaller than"),
        ({"classes": ("ball", "dragon")}, "classes"),
        ({"lighting": 1.5}, "lighting"),
    ],
)
def test_bad_config_names_the_problem(overrides, fragment):
    with pytest.raises(ValueError, match=fragment):
        SceneConfig(**overrides)


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ValueError, match="crossing"):
        scene_config("nope")
    with pytest.raises(ValueError, match="bad override"):
        scene_config("mixed", colour="red")
