"""The simulator: determinism, ground truth that matches the pixels, and the events each preset promises."""

from __future__ import annotations

import numpy as np
import pytest

from sam2auto_ros.sim import SCENE_PRESETS, Scene, SceneConfig, ego, make_scene, scene_config

NEW_PRESETS = ("ego", "crowd", "absence", "lowrate", "robot")


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


@pytest.mark.parametrize("name", NEW_PRESETS)
def test_new_scenes_are_deterministic_per_seed(name):
    def render(seed):
        return list(make_scene(name, seed=seed, n_frames=6, height=96, width=128).frames())

    a, b, other = render(3), render(3), render(4)
    for fa, fb in zip(a, b):
        assert fa.stamp_ns == fb.stamp_ns and fa.world_index == fb.world_index
        assert np.array_equal(fa.image, fb.image) and np.array_equal(fa.id_map, fb.id_map)
        assert [i.mask.counts for i in fa.gt.instances] == [i.mask.counts for i in fb.gt.instances]
    assert any(not np.array_equal(x.image, y.image) for x, y in zip(a, other))


@pytest.mark.parametrize("name", sorted(SCENE_PRESETS))
def test_truth_masks_match_the_rendered_pixels(name):
    # without lighting, noise and blur, background pixels are exactly the backdrop and object pixels are not
    scene = make_scene(name, seed=1, n_frames=40, lighting=0.0, noise=0.0, motion_blur=0.0)
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


def test_ego_truth_follows_the_camera_geometry():
    """Under ego-motion each fully seen object's mask sits where a pinhole camera at the robot's
    pose puts it, and is as tall as its distance says (computed here from the poses alone)."""
    scene = make_scene("ego", seed=2, n_frames=150, rotation=0.0, motion_blur=0.0, noise=0.0, lighting=0.0)
    drive, (h, w) = scene.drive, (scene.config.height, scene.config.width)
    focal, cx, horizon = ego.FOCAL * w, w / 2, ego.HORIZON * h
    checked, heights = 0, {}
    for index in range(0, 150, 5):
        frame = scene.frame(index)
        positions, sizes = scene.world_state(index)
        yaw = drive.yaw[frame.world_index]
        for inst in frame.gt.instances:
            g = inst.track_id
            x0, y0, x1, y1 = inst.mask.box_xyxy()
            if frame.visible_area[g] != frame.unoccluded_area[g] or y1 - y0 < 12 or min(x0, y0) <= 0 or x1 >= w or y1 >= h:
                continue  # partly hidden or cut by the border: its box says less
            dx, dz = positions[g - 1] - (drive.x[frame.world_index], drive.z[frame.world_index])
            right, depth = np.cos(yaw) * dx - np.sin(yaw) * dz, np.sin(yaw) * dx + np.cos(yaw) * dz
            tall = focal * sizes[g - 1] / depth
            alpha = scene._appearances[g - 1].alpha
            rows = np.flatnonzero(alpha.any(axis=1))
            expected_height = tall * (rows[-1] + 1 - rows[0]) / alpha.shape[0]
            assert abs((y1 - y0) - expected_height) <= 0.1 * expected_height + 2
            centre = np.array([cx + focal * right / depth, horizon + focal * (ego.CAMERA_HEIGHT - sizes[g - 1] / 2) / depth])
            assert np.abs(np.array([(x0 + x1) / 2, (y0 + y1) / 2]) - centre).max() <= 0.06 * tall + 1.5
            heights.setdefault(g, []).append(y1 - y0)
            checked += 1
    assert checked >= 30
    assert max(max(v) / min(v) for v in heights.values()) > 1.5  # the robot nears objects: they grow
    assert np.ptp(np.degrees(drive.yaw)) > 30  # and it turns: the view pans


def test_ego_blur_smears_pixels_but_not_the_truth():
    sharp = make_scene("ego", seed=1, n_frames=120, motion_blur=0.0)
    blurred = make_scene("ego", seed=1, n_frames=120, motion_blur=1.0)
    turning = int(np.argmax(np.abs(np.diff(sharp.drive.yaw))))
    assert abs(sharp.drive.yaw[turning + 1] - sharp.drive.yaw[turning]) * sharp.lens.focal > 3  # a pan of > 3 px/frame
    a, b = sharp.frame(turning), blurred.frame(turning)
    assert np.array_equal(a.id_map, b.id_map)
    assert [i.mask.counts for i in a.gt.instances] == [i.mask.counts for i in b.gt.instances]
    grad = [np.abs(np.diff(f.image.astype(int), axis=1)).mean() for f in (a, b)]
    assert grad[1] < 0.9 * grad[0]  # sideways detail is smeared along the pan


@pytest.mark.parametrize("name, step", [("lowrate", 5), ("robot", 3), ("crossing", 4)])
def test_a_low_rate_view_is_every_kth_world_frame_with_real_stamps(name, step):
    view = make_scene(name, seed=7, n_frames=8, frame_step=step, height=96, width=96)
    world = make_scene(name, seed=7, n_frames=7 * step + 1, frame_step=1, height=96, width=96)
    stamps = [f.stamp_ns for f in view.frames()]
    assert np.all(np.diff(stamps) == pytest.approx(step * 1e9 / view.config.fps, abs=1))
    for frame in view.frames():
        same = world.frame(frame.index * step)
        assert (frame.world_index, frame.stamp_ns) == (same.index, same.stamp_ns)
        assert np.array_equal(frame.image, same.image)
        assert [i.mask.counts for i in frame.gt.instances] == [i.mask.counts for i in same.gt.instances]


def test_presets_that_vary_with_the_seed():
    assert {scene_config("lowrate", seed=s).frame_step for s in range(8)} == {3, 4, 5, 6}
    assert {scene_config("crowd", seed=s).n_objects for s in range(11)} == set(range(30, 41))
    assert scene_config("lowrate", seed=1, frame_step=2).frame_step == 2  # an explicit value wins


def test_crowd_has_lookalike_groups_and_frequent_occlusion():
    scene = make_scene("crowd", seed=0, n_frames=30)
    groups = {}
    for obj in scene.objects:
        groups.setdefault(obj.appearance_id, []).append(obj)
    assert 30 <= len(scene.objects) <= 40
    assert sum(len(g) >= 3 for g in groups.values()) >= 6
    hidden = [((f.visible_area[1:] < f.unoccluded_area[1:]) & (f.unoccluded_area[1:] > 0)).sum() for f in scene.frames()]
    assert np.median(hidden) >= 3  # several objects partly hidden by others on a typical frame


def test_absence_objects_stay_away_for_seconds_and_return_some_across_another_edge():
    long_absences, edges_changed = 0, []
    for seed in (0, 1):
        scene = make_scene("absence", seed=seed, height=64, width=64)
        fps, n = scene.config.fps, len(scene.objects)
        inside = np.array([[f.unoccluded_area[g] > 0 for g in range(1, n + 1)] for f in scene.frames()])
        for g in range(n):
            out = np.flatnonzero(~inside[:, g])
            for run in np.split(out, np.flatnonzero(np.diff(out) > 1) + 1) if len(out) else []:
                if run[0] == 0 or run[-1] == len(inside) - 1:
                    continue  # not seen both leaving and coming back
                assert len(run) >= 4.5 * fps  # away 5-15 s (the frames at either end are partly in)
                long_absences += 1
                exit_at, entry_at = scene._positions[run[0], g], scene._positions[run[-1], g]
                edges_changed.append(_edge(exit_at, 64) != _edge(entry_at, 64))
    assert long_absences >= 4
    assert any(edges_changed) and not all(edges_changed)  # some come back across another edge, some not


def _edge(centre, size):
    x, y = centre
    return int(np.argmin([x, size - x, y, size - y]))
