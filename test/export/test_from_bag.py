"""Datasets from an annotated bag: the files validate and match the tracks in the bag."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from sam2auto_ros.annotate_bag import annotate_bag, record_scene_bag
from sam2auto_ros.export import Categories, ExportError, read_mots, to_coco
from sam2auto_ros.export.from_bag import export_bag, load_tracks
from sam2auto_ros.sim import CLASS_NAMES, make_scene


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    scene = make_scene("crossing", seed=3, n_frames=24, height=96, width=128)
    root = tmp_path_factory.mktemp("bags")
    sim = record_scene_bag(scene.frames(), root / "sim")
    out = root / "labelled"
    annotate_bag(sim, out, classes=CLASS_NAMES, progress=False, overlay=False)
    return scene, sim, out


def test_exports_validate_and_match_the_bag_tracks(labelled, tmp_path):
    scene, _, bag = labelled
    written = export_bag(bag, tmp_path, fps=10)
    tracks = load_tracks(bag)
    assert tracks.tracks_topic == "/sam2auto/annotated/tracks" and tracks.image_topic == "/sam2auto/image"
    assert tracks.categories.names == CLASS_NAMES  # the label map from the bag's metadata
    frames = tracks.frames
    # COCO: loads in pycocotools; mask AP against the simulator's ground truth is computed
    api = COCO(str(written["coco"]))
    assert len(api.getImgIds()) == 24
    truth = [f.gt for f in scene.frames()]
    gt_api = COCO()
    gt_api.dataset = to_coco(truth, Categories(CLASS_NAMES))
    with contextlib.redirect_stdout(io.StringIO()):
        gt_api.createIndex()
        results = json.loads(written["coco"].read_text())["annotations"]  # image ids are frame numbers + 1 in both
        ev = COCOeval(gt_api, gt_api.loadRes(results), "segm")
        ev.evaluate(), ev.accumulate(), ev.summarize()
    assert 0.3 < ev.stats[0] <= 1.0  # mask AP of the weight-free pipeline on this scene
    # YouTube-VIS: one annotation per track, masks equal to the bag's
    ytvis = json.loads(written["ytvis"].read_text())
    ids = {i.track_id for f in frames for i in f.instances if i.mask is not None and i.mask.area > 0}
    assert {a["track_id"] for a in ytvis["annotations"]} == ids
    for ann in ytvis["annotations"]:
        for n, seg in enumerate(ann["segmentations"]):
            inst = next((i for i in frames[n].instances if i.track_id == ann["track_id"] and i.mask is not None and i.mask.area), None)
            assert (seg is None) == (inst is None)
            if seg is not None:
                assert np.array_equal(mask_utils.decode(seg).astype(bool), inst.mask.to_array())
    # MOTS: parses back; every pixel of a track is its own or lost to a higher-scoring overlap
    for n, frame in read_mots(written["mots"], tracks.categories).items():
        for inst in frame.instances:
            orig = next(i for i in frames[n].instances if i.track_id == inst.track_id)
            assert not (inst.mask.to_array() & ~orig.mask.to_array()).any()
            assert inst.label == orig.label
    # MOT: one line per visible tracked box
    assert len(written["mot"].read_text().splitlines()) == sum(
        1 for f in frames for i in f.instances if i.mask is not None and i.mask.area > 0)
    assert len(list(written["images"].glob("video/*.jpg"))) == 24 and written["video"].stat().st_size > 0


def test_bag_without_tracks_is_refused_clearly(labelled, tmp_path):
    _, sim, bag = labelled
    with pytest.raises(ExportError, match="has no tracks topic .*annotate it first"):
        export_bag(sim, tmp_path)
    with pytest.raises(ExportError, match="is not an InstanceMaskArray topic"):
        load_tracks(bag, "/sam2auto/image")
    with pytest.raises(ExportError, match="unknown export format"):
        export_bag(bag, tmp_path, ["voc"])
