"""SmartOD end to end: thresholding, sliced verification, masks from random-weight SAM 2.

The detector here is a scripted test double of the detector *interface* (a colour-blob finder
with cv2, on DetectorBackend so sanitising is real): it finds solid red ("cat") and blue
("dog") rectangles in whatever image or slice it is given, and on the full frame only it also
reports a confident phantom box, which sliced re-detection cannot confirm.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from sam2auto_ros.core.instance import InstanceStatus
from sam2auto_ros.smart_od.config import SmartODConfig
from sam2auto_ros.smart_od.detectors import DetectorBackend, DetectorError, RawDetections
from sam2auto_ros.smart_od.pipeline import REJECT_BELOW_THRESHOLD, REJECT_NOT_VERIFIED, SmartOD, SmartODError
from test.smart_od.sam2_tiny import encode, tiny_sam2

torch.set_num_threads(2)
HW = (120, 200)
COLOURS = {"cat": (255, 0, 0), "dog": (0, 0, 255)}
PHANTOM = np.array([150, 80, 190, 115])


class BlobDetector(DetectorBackend):
    def __init__(self, frame_hw=HW, **kwargs):
        super().__init__(**kwargs)
        self.frame_hw = frame_hw
        self.calls = 0

    def _predict(self, image, class_names):
        self.calls += 1
        boxes, scores, ids = [], [], []
        for cid, name in enumerate(class_names):
            hit = np.all(image == COLOURS.get(name, (-1, -1, -1)), axis=2).astype(np.uint8)
            count, _, stats, _ = cv2.connectedComponentsWithStats(hit)
            for x, y, w, h, area in stats[1:]:
                boxes.append([x, y, x + w, y + h])
                scores.append(0.6 + 0.3 * min(area / 400, 1.0))
                ids.append(cid)
        if image.shape[:2] == self.frame_hw:
            boxes += [PHANTOM.tolist(), [0, 0, 5, 5], [5, 100, 12, 110], [20, 100, 26, 110], [40, 100, 47, 110]]
            scores += [0.85, 0.04, 0.1, 0.12, 0.11]  # the phantom, and weak noise
            ids += [0, 0, 1, 1, 0]
        return RawDetections(np.array(boxes, float).reshape(-1, 4), np.array(scores), np.array(ids))


def _frame():
    image = np.full((*HW, 3), 90, np.uint8)
    image[10:40, 10:50] = COLOURS["cat"]
    image[50:90, 60:110] = COLOURS["dog"]
    image[20:45, 120:140] = COLOURS["cat"]
    return image


def _config(**sections):
    base = {"detector.class_names": ["cat", "dog"], "slicing.slice_size": 64, "amg.points_per_side": 4}
    base.update(sections)
    return SmartODConfig.from_dict(base)


def test_threshold_and_verification_without_masks():
    det = BlobDetector()
    smart = SmartOD(_config(generate_masks=False), detector=det)
    result = smart.detect(_frame())
    diag = result.diagnostics
    assert sorted(i.label for i in result.instances) == ["cat", "cat", "dog"]
    assert all(i.mask is None and i.status == InstanceStatus.DETECTION for i in result.instances)
    reasons = diag.rejected_counts()
    assert reasons[REJECT_NOT_VERIFIED] == 1  # the phantom
    assert reasons[REJECT_BELOW_THRESHOLD] == 3  # the weak noise (0.04 is under the backend floor)
    assert diag.sanitize.below_floor == 1
    assert diag.detections == 7 and diag.verified == 3 and diag.slices >= len(diag.rois) >= 1
    phantom = [r for r in diag.rejected if r.reason == REJECT_NOT_VERIFIED][0]
    assert np.allclose(phantom.box, PHANTOM) and phantom.best_iou <= 0.5


def test_without_slicing_the_phantom_passes():
    smart = SmartOD(_config(generate_masks=False, **{"slicing.enabled": False}), detector=BlobDetector())
    result = smart.detect(_frame())
    assert len(result.instances) == 4 and result.diagnostics.slices == 0


def test_class_names_change_at_run_time():
    smart = SmartOD(_config(generate_masks=False), detector=BlobDetector())
    smart.set_classes(["dog"])
    assert [i.label for i in smart.detect(_frame()).instances] == ["dog"]
    with pytest.raises(DetectorError, match="empty"):
        smart.set_classes([])
    assert smart.class_names == ["dog"]  # unchanged after the bad call


@pytest.mark.slow
def test_every_labelled_detection_gets_a_sam2_mask():
    model = tiny_sam2()[0]
    image = _frame()
    features = encode(image)
    smart = SmartOD(_config(**{"pairing.keep_unlabelled": True, "amg.pred_iou_thresh": 0.0, "amg.stability_score_thresh": 0.0}),
                    detector=BlobDetector(), sam_model=model)
    result = smart.detect(image, features)
    diag = result.diagnostics
    labelled = [i for i in result.instances if i.label]
    assert len(labelled) == 3
    assert diag.paired + diag.box_prompted == 3 and diag.proposals == diag.amg.final
    assert diag.unlabelled == diag.proposals - diag.paired
    assert diag.without_mask == 0 and all(i.mask is not None for i in result.instances)
    for inst in result.instances:
        assert inst.mask.shape == HW and inst.mask.area > 0 and np.array_equal(inst.box, inst.mask.box_xyxy())
    switched_off = SmartOD(_config(**{"amg.pred_iou_thresh": 0.0, "amg.stability_score_thresh": 0.0}),
                           detector=BlobDetector(), sam_model=model).detect(image, features)
    assert all(i.label for i in switched_off.instances) and switched_off.diagnostics.unlabelled == 0


def test_mask_generation_needs_a_model_and_matching_features():
    with pytest.raises(SmartODError, match="SAM 2 model"):
        SmartOD(_config(), detector=BlobDetector())
    smart = SmartOD(_config(), detector=BlobDetector(), sam_model=tiny_sam2()[0])
    with pytest.raises(SmartODError, match="features"):
        smart.detect(_frame())
    other = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(SmartODError, match="frame"):
        smart.detect(_frame(), encode(other))
    with pytest.raises(DetectorError, match="uint8"):
        smart.detect(_frame().astype(np.float32))


def test_from_params_without_detector_weights_fails_before_loading_sam2(tmp_path):
    # the default detector (owlv2-base) is looked for in models_dir first: an empty folder here
    with pytest.raises(DetectorError, match="sam2auto models download owlv2-base"):
        SmartOD.from_params({"classes": ["cat"], "smart_od_config": "", "models_dir": str(tmp_path)})
