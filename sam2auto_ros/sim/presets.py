"""Named scenes that each stress one thing FLASH must survive, plus a mix of all of them.

``scene_config("crossing", seed=3)`` returns the preset's ``SceneConfig`` with any field
overridden; the same name always means the same scene for a given seed and size.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

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
    }
)


def scene_config(name: str, **overrides) -> SceneConfig:
    """The preset ``name`` with ``overrides`` applied (e.g. ``seed``, ``n_frames``, ``height``)."""
    try:
        base = SCENE_PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown scene preset {name!r}; choose one of {', '.join(SCENE_PRESETS)}") from None
    try:
        return replace(base, **overrides)
    except TypeError as exc:
        raise ValueError(f"bad override for scene preset {name!r}: {exc}") from None


def make_scene(name: str, **overrides) -> Scene:
    return Scene(scene_config(name, **overrides))
