"""The benchmark's baselines behave as their schemes describe (on constructed masks)."""

from __future__ import annotations

import numpy as np

from sam2auto_ros.core.instance import Instance
from sam2auto_ros.flash.baselines import GroundedSam2Linker, IouLinker

from .scripted import Disc, OverlapPropagator, render


def _disc_at(x, size=(64, 64), r=8):
    yy, xx = np.mgrid[: size[0], : size[1]]
    return Instance.from_mask_array((xx - x) ** 2 + (yy - 32) ** 2 <= r * r, score=0.9)


def test_iou_linker_links_consecutive_frames_and_breaks_on_a_gap():
    linker = IouLinker()
    ids = [linker.update(i, 64, 64, [_disc_at(20 + i)]).instances[0].track_id for i in range(3)]
    assert ids == [ids[0]] * 3
    assert not linker.update(3, 64, 64, []).instances  # no propagation: nothing without a detection
    linker.update(4, 64, 64, [])
    assert linker.update(5, 64, 64, [_disc_at(25)]).instances[0].track_id != ids[0]


def test_grounded_sam2_reuses_ids_only_at_high_iou_and_drops_missed_objects():
    scene = render([Disc(1, lambda f: (20 + f, 32), radius=8)], 45, size=(64, 64))
    linker = GroundedSam2Linker(OverlapPropagator(scene.id_maps), reseed_every=20)
    outs = [linker.update(scene.images[f], scene.stamps[f], scene.detections(f) if f != 20 else []) for f in range(45)]
    first = outs[0].instances[0].track_id
    assert all(o.instances[0].track_id == first for o in outs[1:20])
    assert not outs[20].instances and not outs[39].instances  # missed on the re-seed frame: gone for a window
    assert outs[40].instances[0].track_id != first  # and a new id when it comes back
