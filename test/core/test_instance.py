import numpy as np
import pytest

from sam2auto_ros.core import NO_TRACK, FrameInstances, Instance, InstanceStatus, RleMask


def test_box_derived_from_mask_when_not_given():
    mask = np.zeros((20, 30), bool)
    mask[2:5, 7:9] = True
    inst = Instance.from_mask_array(mask, label="cup", score=0.5)
    assert inst.box.tolist() == [7, 2, 9, 5]
    assert inst.track_id == NO_TRACK and not inst.has_track
    tracked = inst.with_track(4)
    assert tracked.track_id == 4 and tracked.status is InstanceStatus.CONFIRMED
    assert inst.track_id == NO_TRACK  # immutable


def test_explicit_box_kept_and_validated():
    inst = Instance(mask=None, box=[1, 2, 3, 4], score=0.1)
    assert inst.box.dtype == np.float32 and inst.box.tolist() == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="4 values"):
        Instance(mask=None, box=[1, 2, 3])
    with pytest.raises(ValueError, match="non-finite"):
        Instance(mask=None, box=[0, 0, np.nan, 1])
    with pytest.raises(ValueError, match="score"):
        Instance(mask=None, box=[0, 0, 1, 1], score=float("nan"))


def test_frame_rejects_masks_of_another_size():
    with pytest.raises(ValueError, match="frame is"):
        FrameInstances(stamp_ns=0, height=10, width=10, instances=(Instance(mask=RleMask.empty(10, 11)),))
