"""Automatic mask generation on random-weight SAM 2.1 tiny at 256 px: the mechanics.

Random weights give no meaningful masks; these tests check what must hold for any weights:
prompt decoding equals sam2's own SAM heads, filters obey their thresholds, NMS leaves no
overlapping duplicates, shapes and boxes are consistent, crop layers run.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sam2auto_ros.core.masks import box_iou_matrix
from sam2auto_ros.smart_od.amg import MaskGenerator, masks_to_boxes, point_grid, stability_scores
from sam2auto_ros.smart_od.config import AmgConfig
from sam2auto_ros.smart_od.prompting import PromptDecodingError, decode_prompts, masks_from_boxes, to_model_coords
from test.smart_od.sam2_tiny import encode, tiny_sam2

torch.set_num_threads(2)
HW = (96, 160)


@pytest.fixture(scope="module")
def model():
    return tiny_sam2()[0]


@pytest.fixture(scope="module")
def features():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (*HW, 3), dtype=np.uint8)
    image[20:70, 30:90] = (220, 40, 40)
    return encode(image)


def test_point_grid_is_cell_centres():
    grid = point_grid(4)
    assert grid.shape == (16, 2)
    assert np.allclose(np.unique(grid[:, 0]), [0.125, 0.375, 0.625, 0.875])
    assert np.allclose(grid[:4, 1], 0.125)  # row by row


def test_stability_score_counts_pixels():
    logits = torch.full((1, 4, 4), -5.0)
    logits[0, :2, :2] = 5.0  # 4 px confidently inside
    logits[0, 2, :2] = 0.5  # 2 px inside at cutoff -1 only
    assert stability_scores(logits, 0.0, 1.0).item() == pytest.approx(4 / 6)
    assert stability_scores(torch.full((1, 3, 3), -9.0), 0.0, 1.0).item() == 0.0


def test_masks_to_boxes_max_exclusive_and_empty():
    masks = torch.zeros((2, 10, 12), dtype=torch.bool)
    masks[0, 2:5, 3:9] = True
    assert masks_to_boxes(masks).tolist() == [[3, 2, 9, 5], [0, 0, 0, 0]]


def test_decoding_matches_sam2_heads(model, features):
    """Our batched point decoding equals SAM2Base._forward_sam_heads on the same features."""
    point = torch.tensor([[[70.0, 40.0]]])
    labels = torch.ones((1, 1), dtype=torch.int32)
    low_res, iou = decode_prompts(model, features, point, labels, multimask_output=True)
    embed = features.image_embed + model.no_mem_embed.view(1, -1, 1, 1)
    with torch.no_grad():
        ref = model._forward_sam_heads(
            backbone_features=embed,
            point_inputs={"point_coords": to_model_coords(model, point, features.orig_hw), "point_labels": labels},
            high_res_features=list(features.high_res_feats),
            multimask_output=True,
        )
    ref_low, ref_iou = ref[0], ref[2]
    assert torch.allclose(iou, ref_iou, atol=1e-5)
    present = ref_low > -1000  # sam2 blanks masks of objects it scores absent
    assert torch.allclose(low_res[present], ref_low[present], atol=1e-4)


def test_batch_decoding_equals_one_by_one(model, features):
    points = torch.tensor([[[10.0, 10.0]], [[80.0, 50.0]], [[150.0, 90.0]]])
    labels = torch.ones((3, 1), dtype=torch.int32)
    batch_low, batch_iou = decode_prompts(model, features, points, labels, True)
    for i in range(3):
        low, iou = decode_prompts(model, features, points[i : i + 1], labels[i : i + 1], True)
        assert torch.allclose(batch_iou[i], iou[0], atol=1e-5)
        assert torch.allclose(batch_low[i], low[0], atol=1e-4)


def test_filters_obey_thresholds(model, features):
    """Thresholds set inside the observed ranges, so each filter really removes something."""
    open_cfg = AmgConfig(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0)
    everything = MaskGenerator(model, open_cfg).generate(features)
    assert everything.stats.points == 16 and everything.stats.decoded == 48
    low_res, iou = decode_prompts(
        model,
        features,
        torch.as_tensor(point_grid(4) * np.array([HW[1], HW[0]]), dtype=torch.float32)[:, None],
        torch.ones((16, 1), dtype=torch.int32),
        True,
    )
    iou_cut = float(np.median(iou.numpy()))
    cfg = AmgConfig(points_per_side=4, pred_iou_thresh=iou_cut, stability_score_thresh=0.0, box_nms_thresh=1.0)
    result = MaskGenerator(model, cfg).generate(features)
    assert result.stats.after_pred_iou == int((iou > iou_cut).sum())
    assert all(inst.score > iou_cut for inst in result.instances)
    stab_cut = float(np.median(everything.stability)) if len(everything.stability) else 0.5
    cfg = AmgConfig(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=stab_cut, box_nms_thresh=1.0)
    result = MaskGenerator(model, cfg).generate(features)
    assert np.all(result.stability >= stab_cut)
    assert result.stats.after_stability <= result.stats.after_pred_iou


def test_nms_removes_duplicates_and_outputs_are_consistent(model, features):
    loose = MaskGenerator(model, AmgConfig(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0))
    strict = MaskGenerator(model, AmgConfig(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=0.7))
    many, few = loose.generate(features), strict.generate(features)
    assert len(few.instances) < len(many.instances)
    boxes = np.array([i.box for i in few.instances])
    ious = box_iou_matrix(boxes, boxes)
    np.fill_diagonal(ious, 0)
    assert ious.max(initial=0) <= 0.7
    for inst in few.instances:
        assert inst.mask.shape == HW and inst.label == "" and inst.track_id == -1
        assert np.array_equal(inst.box, inst.mask.box_xyxy())
        assert inst.mask.area > 0


def test_box_prompt_masks(model, features):
    masks, iou = masks_from_boxes(model, features, np.array([[10, 10, 60, 50], [80, 20, 150, 90]]))
    assert masks.shape == (2, *HW) and masks.dtype == torch.bool and iou.shape == (2,)
    empty_masks, _ = masks_from_boxes(model, features, np.zeros((0, 4)))
    assert empty_masks.shape == (0, *HW)


@pytest.mark.slow
def test_crop_layers_need_and_use_an_encoder(model, features):
    with pytest.raises(ValueError, match="encoder"):
        MaskGenerator(model, AmgConfig(crop_n_layers=1))
    image = np.random.default_rng(2).integers(0, 255, (*HW, 3), dtype=np.uint8)
    gen = MaskGenerator(
        model, AmgConfig(points_per_side=2, pred_iou_thresh=0.0, stability_score_thresh=0.0, crop_n_layers=1), encoder=encode
    )
    result = gen.generate(encode(image), image)
    assert result.stats.crops == 5 and result.stats.points == 5 * 4
    assert all(inst.mask.shape == HW for inst in result.instances)
    with pytest.raises(ValueError, match="image="):
        gen.generate(encode(image), image[:10])


def test_features_of_another_model_size_are_rejected(model, features):
    bad = type(features)(features.frame_index, features.orig_hw, features.image_embed[..., :8, :8], features.image_pos, features.high_res_feats)
    with pytest.raises(PromptDecodingError, match="image_embed"):
        MaskGenerator(model, AmgConfig(points_per_side=2)).generate(bad)
