"""Named scenes that each stress one thing FLASH must survive, plus mixes of them.

``scene_config("crossing", seed=3)`` returns the preset's ``SceneConfig`` with any field
overridden; the same name always means the same scene for a given seed and size. A few presets
vary one field with the seed (``PER_SEED``: the crowd's size, the low rate's step), so a range of
seeds covers the range the preset promises; an explicit override still wins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from sam2auto_ros.sim.scene import Scene, SceneConfig

SCENE_PRESETS = MappingProxyType(
    {
        # look-alike pairs (same class and texture) meeting head-on, one passing in front
        "crossing": SceneConfig(layout="crossing", n_objects=4, exit_fraction=0.0, accel=0.05, rotation=0.5),
        # a large near box sweeping over slower objects, hiding them completely for a while
        "occlusion": SceneConfig(layout="occluder", n_objects=4, lookalike_pairs=0, speed=2.5),
        # every object leaves the frame and comes back
        "reentry": SceneConfig(n_objects=3, lookalike_pairs=0, exit_fraction=1.0, speed=3.0),
        # all of the above at once, with lighting changes, camera shake and sensor noise
        "mixed": SceneConfig(
            n_objects=6, lookalike_pairs=1, exit_fraction=0.35, speed=2.5, lighting=0.25, jitter=3.0, noise=3.0
        ),
        # what a robot sees: the camera drives, turns (the view pans), looks away and back; objects
        # grow as it nears them; fast turns blur. Far objects a few pixels tall are not in the truth
        # (min_visible_area 100 px at 256 px, about KITTI's 25 px minimum height at its 375 px rows)
        "ego": SceneConfig(
            camera="ego", n_objects=14, lookalike_pairs=2, speed=1.0, rotation=0.3, motion_blur=0.5,
            lighting=0.1, noise=2.0, min_visible_area=100,
        ),
        # 30-40 objects (30 + seed % 11), most in look-alike groups of three, hiding each other often
        "crowd": SceneConfig(
            n_objects=35, lookalike_pairs=8, lookalike_size=3, size_range=(0.07, 0.12), exit_fraction=0.2,
            speed=1.5, jitter=1.0, noise=2.0,
        ),
        # objects leave the view for 5-15 s and come back, half of the time across another edge
        "absence": SceneConfig(
            layout="absence", n_objects=5, lookalike_pairs=0, n_frames=600, speed=2.5, away_s=(5.0, 15.0), noise=2.0,
        ),
        # 'mixed' as a slow tracker sees it: every k-th frame (k = 3 + seed % 4), real stamps kept
        "lowrate": SceneConfig(
            n_objects=6, lookalike_pairs=1, exit_fraction=0.35, speed=2.5, lighting=0.25, jitter=3.0, noise=3.0,
            frame_step=3, n_frames=150,
        ),
        # all of the new ones: a driving camera among ~24 objects in look-alike groups, looking away
        # for seconds, seen at every 2nd or 3rd frame (2 + seed % 2)
        "robot": SceneConfig(
            camera="ego", n_objects=24, lookalike_pairs=5, lookalike_size=3, speed=1.0, rotation=0.3,
            motion_blur=0.5, lighting=0.1, noise=2.0, min_visible_area=100, frame_step=2, n_frames=200,
        ),
    }
)

#: preset fields that vary with the seed (applied before the caller's overrides)
PER_SEED: MappingProxyType[str, Callable[[int], dict[str, Any]]] = MappingProxyType(
    {
        "crowd": lambda seed: {"n_objects": 30 + seed % 11},
        "lowrate": lambda seed: {"frame_step": 3 + seed % 4},
        "robot": lambda seed: {"frame_step": 2 + seed % 2},
    }
)


def scene_config(name: str, **overrides) -> SceneConfig:
    """The preset ``name`` with ``overrides`` applied (e.g. ``seed``, ``n_frames``, ``height``)."""
    try:
        base = SCENE_PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown scene preset {name!r}; choose one of {', '.join(SCENE_PRESETS)}") from None
    seed = overrides.get("seed", base.seed)
    seeded = PER_SEED[name](seed) if name in PER_SEED else {}
    try:
        return replace(base, **{**seeded, **overrides})
    except TypeError as exc:
        raise ValueError(f"bad override for scene preset {name!r}: {exc}") from None


def make_scene(name: str, **overrides) -> Scene:
    return Scene(scene_config(name, **overrides))
