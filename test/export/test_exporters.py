from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from sam2auto_ros.core.instance import FrameInstances, Instance, InstanceStatus
from sam2auto_ros.export import Categories, ExportError, export_tracks, read_mots, to_coco, to_ytvis
from sam2auto_ros.export.mots import mot_lines, non_overlapping
from test.export.scene import disc, track_frames

CATS = Categories(["ball", "box"])


def _coco(dataset: dict) -> COCO:
    api = COCO()
    api.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        api.createIndex()
    return api


def _mask_ap(gt: dict, dt: dict) -> float:
    gt_api = _coco(gt)
    with contextlib.redirect_stdout(io.StringIO()):
        dt_api = gt_api.loadRes(dt["annotations"])
        ev = COCOeval(gt_api, dt_api, "segm")
        ev.evaluate(), ev.accumulate(), ev.summarize()
    return float(ev.stats[0])


def test_coco_loads_in_pycocotools_and_keeps_masks_and_track_ids(tmp_path):
    frames = track_frames()
    path = export_tracks(frames, tmp_path, "coco", CATS)
    api = COCO(str(path))
    assert len(api.getImgIds()) == 8
    # 8 ball masks + 6 visible box masks; the occluded placeholders and the raw detection are left out
    assert len(api.getAnnIds()) == 14
    for ann in api.loadAnns(api.getAnnIds()):
        frame = frames[ann["image_id"] - 1]
        inst = next(i for i in frame.instances if i.track_id == ann["track_id"])
        assert np.array_equal(api.annToMask(ann).astype(bool), inst.mask.to_array())
        assert api.loadCats(ann["category_id"])[0]["name"] == inst.label
        assert ann["area"] == int(inst.mask.to_array().sum())


def test_coco_mask_ap_against_ground_truth_is_one_for_exact_and_lower_for_shifted_tracks():
    gt = to_coco(track_frames(), CATS, tracked_only=True)
    assert _mask_ap(gt, to_coco(track_frames(), CATS, tracked_only=True)) == pytest.approx(1.0)
    shifted = _mask_ap(gt, to_coco(track_frames(shift=5), CATS, tracked_only=True))
    assert 0.0 <= shifted < 0.9


def test_ytvis_holds_one_annotation_per_track_with_none_where_not_visible():
    frames = track_frames()
    data = json.loads(json.dumps(to_ytvis(frames, CATS, video_name="seq")))
    assert data["videos"][0]["length"] == 8 and len(data["videos"][0]["file_names"]) == 8
    by_track = {a["track_id"]: a for a in data["annotations"]}
    assert set(by_track) == {3, 7}
    box = by_track[7]
    assert [s is None for s in box["segmentations"]] == [t in (3, 4) for t in range(8)]
    assert box["category_id"] == 2 and box["length"] == 6
    for t, seg in enumerate(by_track[3]["segmentations"]):
        assert np.array_equal(mask_utils.decode(seg).astype(bool), frames[t].instances[0].mask.to_array())


def test_mots_round_trip_matches_tracks_and_resolves_overlaps(tmp_path):
    frames = track_frames()
    path = export_tracks(frames, tmp_path, "mots", CATS)
    lines = path.read_text().splitlines()
    assert len(lines) == 14
    first = lines[0].split(" ")
    assert first[:5] == ["1", "1003", "1", "64", "80"]
    back = read_mots(path, CATS)
    assert sorted(back) == list(range(8))
    for t, frame in back.items():
        for inst in frame.instances:
            orig = next(i for i in frames[t].instances if i.track_id == inst.track_id)
            assert inst.label == orig.label
            assert np.array_equal(inst.mask.to_array(), orig.mask.to_array())  # these discs never overlap
    # overlapping masks: the lower-scoring one loses the shared pixels
    a = Instance.from_mask_array(disc(30, 30, 10), label="ball", score=0.9, track_id=1)
    b = Instance.from_mask_array(disc(36, 30, 10), label="ball", score=0.4, track_id=2)
    (ia, ma), (ib, mb) = non_overlapping([b, a])
    assert ia is a and np.array_equal(ma.to_array(), a.mask.to_array())
    assert not (ma.to_array() & mb.to_array()).any() and mb.area < b.mask.area


def test_mot_boxes_follow_the_motchallenge_layout():
    lines = mot_lines(track_frames())
    assert len(lines) == 14
    frame, tid, x, y, w, h, conf, *rest = lines[0].split(",")
    assert (frame, tid, rest) == ("1", "3", ["-1", "-1", "-1"])
    assert (float(x), float(y), float(w), float(h)) == (3.0, 13.0, 15.0, 15.0)
    assert float(conf) == pytest.approx(0.9)


def test_bad_input_names_the_problem(tmp_path):
    frames = track_frames()
    with pytest.raises(ExportError, match="label 'box' is not in the categories"):
        export_tracks(frames, tmp_path, "coco", ["ball"])
    with pytest.raises(ExportError, match="unknown export format"):
        export_tracks(frames, tmp_path, "voc")
    with pytest.raises(ExportError, match="no frames"):
        export_tracks([], tmp_path, "mots")
    big = [FrameInstances(0, 64, 80, (Instance.from_mask_array(disc(20, 20, 5), label="ball", track_id=1000,
                                                                 status=InstanceStatus.CONFIRMED),))]
    with pytest.raises(ExportError, match="does not fit MOTS"):
        export_tracks(big, tmp_path, "mots")
    with pytest.raises(ExportError, match="categories name 'a' more than once"):
        Categories(["a", "a"])


def test_categories_default_to_the_labels_seen(tmp_path):
    path = export_tracks(track_frames(), tmp_path, "coco")
    assert [c["name"] for c in json.loads(path.read_text())["categories"]] == ["ball", "box"]


def test_davis_pngs_read_back_as_the_visible_tracks(tmp_path):
    """Indexed PNGs in the DAVIS palette; ids 1..N by first appearance; meta.json maps them back;
    what the evaluation harness's DAVIS reader gets equals the visible tracked masks."""
    from PIL import Image

    from sam2auto_ros.eval.readers import read_davis
    from sam2auto_ros.export.davis import davis_palette

    frames = track_frames()
    out = export_tracks(frames, tmp_path, "davis", CATS, video_name="clip")
    pngs = sorted((out / "Annotations" / "clip").glob("*.png"))
    assert [p.name for p in pngs[:2]] == ["000000.png", "000001.png"] and len(pngs) == 8
    with Image.open(pngs[0]) as image:
        assert image.mode == "P" and image.getpalette()[:9] == [0, 0, 0, 128, 0, 0, 0, 128, 0]
    assert davis_palette()[3 * 255:] == [224, 224, 192]  # DAVIS' void colour
    meta = json.loads((out / "meta.json").read_text())["videos"]["clip"]["objects"]
    assert {k: (v["track_id"], v["category"]) for k, v in meta.items()} == {"1": (3, "ball"), "2": (7, "box")}
    assert meta["2"]["frames"] == ["000000", "000001", "000002", "000005", "000006", "000007"]  # occluded in 3-4
    back = read_davis(out / "Annotations" / "clip")
    to_track = {int(k): v["track_id"] for k, v in meta.items()}
    for original, read in zip(frames, back):
        expected = {i.track_id: i.mask.to_array() for i in original.instances
                    if i.track_id > 0 and i.status == InstanceStatus.CONFIRMED}
        got = {to_track[i.track_id]: i.mask.to_array() for i in read.instances}
        assert expected.keys() == got.keys()
        for tid, mask in expected.items():
            assert np.array_equal(got[tid], mask)


def test_davis_refuses_more_objects_than_its_ids_hold(tmp_path):
    def pixel(k: int) -> np.ndarray:
        mask = np.zeros((64, 80), bool)
        mask[k // 80, k % 80] = True
        return mask

    # 3 frames x 85 one-pixel tracks, each with a new id: 255 ids in all, one more than DAVIS holds
    many = [FrameInstances(0, 64, 80, tuple(
        Instance.from_mask_array(pixel(2 * k), label="ball", score=0.5, track_id=1 + 85 * f + k,
                                 status=InstanceStatus.CONFIRMED) for k in range(85)), frame_index=f) for f in range(3)]
    with pytest.raises(ExportError, match="more than 254 tracks"):
        export_tracks(many, tmp_path, "davis")
    export_tracks(many[:2], tmp_path / "ok", "davis")  # 170 ids fit
