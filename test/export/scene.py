"""A tiny hand-made track sequence (two moving discs, one occluded for a while) for exporter tests."""

from __future__ import annotations

import numpy as np

from sam2auto_ros.core.instance import FrameInstances, Instance, InstanceStatus

H, W = 64, 80


def disc(cx: float, cy: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[:H, :W]
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def track_frames(n: int = 8, shift: int = 0) -> list[FrameInstances]:
    """Track 3 'ball' moves right all along; track 7 'box' is occluded in frames 3-4."""
    frames = []
    for t in range(n):
        insts = [Instance.from_mask_array(disc(10 + 4 * t + shift, 20, 7), label="ball", score=0.9, track_id=3,
                                          status=InstanceStatus.CONFIRMED)]
        if t in (3, 4):
            insts.append(Instance(mask=None, box=np.array([50, 30, 60, 40]), label="box", score=0.5, track_id=7,
                                  status=InstanceStatus.OCCLUDED))
        else:
            insts.append(Instance.from_mask_array(disc(60 - 2 * t + shift, 40, 9), label="box", score=0.8, track_id=7,
                                                  status=InstanceStatus.CONFIRMED))
        insts.append(Instance.from_mask_array(disc(40, 55, 4), label="ball", score=0.3))  # raw detection
        frames.append(FrameInstances(stamp_ns=1_000 + t, height=H, width=W, instances=tuple(insts), frame_index=t))
    return frames
