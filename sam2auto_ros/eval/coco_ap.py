"""COCO average precision over video frames with pycocotools' ``COCOeval``: every frame is a COCO
image, every instance an annotation (ground truth) or a scored result (prediction).

Predictions carrying a label no ground-truth instance has cannot match anything and, as in COCO,
do not change AP (COCO scores only categories present in the ground truth).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from typing import Any

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from sam2auto_ros.core import FrameInstances, Instance
from sam2auto_ros.eval.sequences import EvalError, check_pair

_AGNOSTIC = "object"


def _xywh(inst: Instance) -> list[float]:
    x0, y0, x1, y1 = (float(v) for v in inst.box)
    return [x0, y0, x1 - x0, y1 - y0]


def _entry(inst: Instance, image_id: int, category_id: int, iou_type: str, index: int) -> dict[str, Any]:
    box = _xywh(inst)
    entry: dict[str, Any] = {"image_id": image_id, "category_id": category_id, "bbox": box}
    if iou_type == "segm":
        if inst.mask is None:
            raise EvalError(f"frame {index}: mask AP needs masks on every instance; use box mode")
        entry["segmentation"] = inst.mask.to_coco()
        entry["area"] = float(inst.mask.area)
    else:
        entry["area"] = box[2] * box[3]
    return entry


def average_precision(
    sequences: Sequence[tuple[Sequence[FrameInstances], Sequence[FrameInstances]]],
    iou_type: str = "segm",
    class_agnostic: bool = False,
) -> dict[str, float]:
    """``{"AP", "AP50", "AP75"}`` over all frames of all sequences (NaN without ground truth)."""
    if iou_type not in ("segm", "bbox"):
        raise EvalError(f"iou_type must be 'segm' or 'bbox', got {iou_type!r}")
    label = (lambda inst: _AGNOSTIC) if class_agnostic else (lambda inst: inst.label)
    labels = sorted({label(i) for gt, _ in sequences for f in gt for i in f.instances})
    category = {name: k + 1 for k, name in enumerate(labels)}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    image_id = 0
    for gt, pred in sequences:
        check_pair(gt, pred)
        for n, (g, p) in enumerate(zip(gt, pred)):
            image_id += 1
            images.append({"id": image_id, "height": g.height, "width": g.width})
            for inst in g.instances:
                entry = _entry(inst, image_id, category[label(inst)], iou_type, n)
                annotations.append({**entry, "id": len(annotations) + 1, "iscrowd": 0})
            for inst in p.instances:
                if label(inst) in category:
                    results.append({**_entry(inst, image_id, category[label(inst)], iou_type, n), "score": inst.score})
    nan = {"AP": float("nan"), "AP50": float("nan"), "AP75": float("nan")}
    if not annotations:
        return nan
    if not results:
        return {"AP": 0.0, "AP50": 0.0, "AP75": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = {"images": images, "annotations": annotations,
                         "categories": [{"id": i, "name": n} for n, i in category.items()]}
        truth.createIndex()
        found = truth.loadRes(results)
        evaluator = COCOeval(truth, found, iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    ap, ap50, ap75 = (float(v) for v in evaluator.stats[:3])
    return {k: (v if v >= 0 else float("nan")) for k, v in (("AP", ap), ("AP50", ap50), ("AP75", ap75))}
