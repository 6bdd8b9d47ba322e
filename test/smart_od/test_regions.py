"""ROIs (DBSCAN), tiling, slicing, box NMS and detection/mask pairing."""

from __future__ import annotations

import numpy as np

from sam2auto_ros.core.instance import Instance
from sam2auto_ros.smart_od.boxes import nms
from sam2auto_ros.smart_od.config import PairingConfig, RoiConfig, SlicingConfig
from sam2auto_ros.smart_od.pairing import coverage_in_boxes, pair_detections
from sam2auto_ros.smart_od.rois import cluster_rois
from sam2auto_ros.smart_od.slicing import slice_boxes
from sam2auto_ros.smart_od.tiles import amg_crop_boxes, spans


def test_nms_keeps_the_best_of_each_overlap_group():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60], [0, 0, 10, 10]])
    assert nms(boxes, np.array([0.5, 0.9, 0.3, 0.2]), 0.5).tolist() == [1, 2]
    assert nms(boxes, np.array([0.5, 0.9, 0.3, 0.2]), 1.0).tolist() == [1, 0, 2, 3]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []


def test_rois_cover_their_clusters():
    boxes = np.array([[10, 10, 20, 20], [22, 12, 30, 25], [300, 200, 320, 230]], dtype=float)
    rois = cluster_rois(boxes, np.array([0.9, 0.8, 0.5]), (240, 400), RoiConfig(eps=0.1, padding=0.0))
    assert [r.members for r in rois] == [(0, 1), (2,)]  # larger score mass first
    assert rois[0].box == (10, 10, 30, 25) and rois[1].box == (300, 200, 320, 230)
    padded = cluster_rois(boxes[:1], np.ones(1), (240, 400), RoiConfig(padding=1.0))[0]
    assert padded.box == (0, 0, 30, 30)  # grown by one box size, clipped at the frame
    assert cluster_rois(boxes, np.ones(3), (240, 400), RoiConfig(max_rois=1))[0].members == (0, 1)
    assert cluster_rois(np.zeros((0, 4)), np.zeros(0), (240, 400)) == []


def test_noise_boxes_get_their_own_region():
    boxes = np.array([[0, 0, 10, 10], [2, 2, 12, 12], [200, 200, 210, 210]], dtype=float)
    rois = cluster_rois(boxes, np.ones(3), (300, 300), RoiConfig(min_samples=2))
    assert sorted(r.members for r in rois) == [(0, 1), (2,)]


def test_tiles_cover_with_overlap():
    parts = spans(100, 3, 10)
    assert parts[0][0] == 0 and parts[-1][1] == 100
    assert all(a[1] - b[0] == 10 for a, b in zip(parts, parts[1:]))
    crops = amg_crop_boxes(100, 200, 1, 0.2)
    assert crops[0] == ((0, 0, 200, 100), 0) and len(crops) == 5 and all(layer == 1 for _, layer in crops[1:])


def test_slices_of_a_region():
    small = slice_boxes((10, 10, 100, 80), SlicingConfig(slice_size=512))
    assert small == [(10, 10, 100, 80)]
    big = slice_boxes((0, 0, 1000, 400), SlicingConfig(slice_size=512, overlap_ratio=0.2))
    assert big[-1] == (0, 0, 1000, 400) and len(big) == 4  # 3 slices across + the whole region
    assert max(b[2] for b in big[:-1]) == 1000 and all(b[2] - b[0] <= 512 for b in big[:-1])
    assert all(a[2] > b[0] for a, b in zip(big[:2], big[1:3]))  # neighbours overlap


def _inst(mask=None, box=(0, 0, 0, 0), label="", score=0.5):
    from sam2auto_ros.core.masks import RleMask

    return Instance(mask=None if mask is None else RleMask.from_array(mask), box=np.array(box, np.float32), label=label, score=score)


def test_coverage_in_boxes():
    mask = np.zeros((20, 20), bool)
    mask[5:10, 5:15] = True
    assert coverage_in_boxes(mask, np.array([[0, 0, 20, 20], [5, 5, 10, 10], [15, 15, 20, 20]])).tolist() == [1.0, 0.5, 0.0]


def test_pairing_is_one_to_one_and_respects_coverage():
    masks = np.zeros((3, 40, 40), bool)
    masks[0, 5:15, 5:15] = True  # object A
    masks[1, 6:15, 5:15] = True  # near-duplicate of A
    masks[2, 20:35, 20:40] = True  # object B
    proposals = [_inst(m) for m in masks]
    detections = [_inst(box=(5, 5, 15, 15), label="a"), _inst(box=(20, 20, 32, 35), label="b"), _inst(box=(0, 30, 5, 40), label="c")]
    pairing = pair_detections(detections, proposals, PairingConfig(min_box_iou=0.5, min_coverage=0.8))
    assert pairing.pairs == ((0, 0),)  # B leaks out of its box by 8/20 columns: coverage 0.6
    assert pairing.unmatched_detections == (1, 2) and pairing.unclaimed_proposals == (1, 2)
    loose = pair_detections(detections, proposals, PairingConfig(min_box_iou=0.5, min_coverage=0.5))
    assert set(loose.pairs) == {(0, 0), (1, 2)}
