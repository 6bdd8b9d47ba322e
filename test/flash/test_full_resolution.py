"""FLASH on masks made full-resolution in windows gives what it gives on whole-frame masks.

The propagator here is a test double of the interface (``LogitsOfTruth``): each object follows the
ground-truth object its prompt covered, and is handed over as SAM 2 hands it, 64 x 64 mask logits.
The fast path gives FLASH those logits (``LowResLogits``: windows, on demand); the reference path
upsamples every object over the whole frame with ``F.interpolate`` and encodes the whole array,
as the SAM 2 engine did before. Same simulator scene at 720p, same detections.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sam2auto_ros.core.masks import RleMask, mask_iou_matrix
from sam2auto_ros.core.predicted_masks import LowResLogits, PredictedMask
from sam2auto_ros.core.propagation import ObjectPrediction, Prompt
from sam2auto_ros.flash import FlashConfig, FlashTracker, run_offline
from sam2auto_ros.sim import NoisyDetector, make_scene, noise_preset

LOW_RES = 64


class WholeFrameLogits(PredictedMask):
    """The reference: logits upsampled over the whole frame by torch, the whole array encoded."""

    def __init__(self, logits: torch.Tensor, size: tuple[int, int]) -> None:
        self.height, self.width = size
        self.full = F.interpolate(logits[None, None], size=size, mode="bilinear", align_corners=False)[0, 0].numpy()

    @property
    def has_logits(self) -> bool:
        return True

    def bounds(self):
        return (0, 0, self.width, self.height)

    def window(self, x0, y0, x1, y1):
        return self.full[y0:y1, x0:x1] > 0

    def logits_window(self, x0, y0, x1, y1):
        return self.full[y0:y1, x0:x1]

    def _encode(self) -> RleMask:
        return RleMask.from_array(self.full > 0)


def truth_logits(frames) -> list[dict[int, torch.Tensor]]:
    """Per frame, each ground-truth object as 64 x 64 logits (+8 inside, -8 outside), grown by a
    low-resolution pixel, as from a propagator that over-segments: neighbours' masks overlap."""
    out = []
    for f in frames:
        logits = {}
        for g in f.gt.instances:
            small = cv2.resize(g.mask.to_array().astype(np.float32), (LOW_RES, LOW_RES), interpolation=cv2.INTER_AREA)
            logits[g.track_id] = torch.from_numpy(cv2.dilate(small, np.ones((3, 3), np.uint8)) * 16.0 - 8.0)
        out.append(logits)
    return out


class LogitsOfTruth:
    """Propagator double: each object follows the ground-truth object its prompt covered most."""

    name = "logits-of-truth"

    def __init__(self, frames, logits, kind: type[PredictedMask]) -> None:
        self.frames, self.logits, self.kind = frames, logits, kind
        self.reset()

    def reset(self) -> None:
        self.index, self.follows, self.latest = -1, {}, {}

    @property
    def object_ids(self):
        return list(self.follows)

    @property
    def frame_index(self):
        return self.index

    @property
    def oldest_promptable_frame(self):
        return max(self.index - 7, 0)

    def step(self, image):
        self.index += 1
        return {i: self._predict(i) for i in self.follows}

    def add_object(self, obj_id, prompt: Prompt, frame_index=None):
        gt = self.frames[self.index if frame_index is None else frame_index].gt.instances
        ious = mask_iou_matrix([RleMask.from_array(prompt.mask)], [g.mask for g in gt])[0]
        self.follows[obj_id] = gt[int(ious.argmax())].track_id
        return self._predict(obj_id)

    def remove_object(self, obj_id):
        del self.follows[obj_id]

    def _predict(self, obj_id) -> ObjectPrediction:
        logits = self.logits[self.index].get(self.follows[obj_id])
        size = self.frames[self.index].image.shape[:2]
        if logits is None:  # the object is out of sight
            logits = torch.full((LOW_RES, LOW_RES), -8.0)
        pred = ObjectPrediction(obj_id, self.index, self.kind(logits, size), 8.0 if logits.max() > 0 else -8.0, 0.9)
        self.latest[obj_id] = pred  # what the tracker was last told about the object
        return pred


def _online(frames, logits, detections, kind):
    propagator = LogitsOfTruth(frames, logits, kind)
    tracker = FlashTracker(propagator, FlashConfig())
    out, told = [], []
    for f, dets in zip(frames, detections):
        tracker.step(f.image, f.stamp_ns, render=False)
        tracker.add_detections(f.stamp_ns, dets)
        out.append(tracker.current())
        told.append(dict(propagator.latest))
    return out, told


@pytest.fixture(scope="module")
def scene_720p():
    """Eight objects at 1280 x 720 that come close (their grown masks overlap), with noisy detections."""
    frames = list(make_scene("mixed", seed=2, n_frames=10, height=720, width=1280, n_objects=8).frames())
    detector = NoisyDetector(noise_preset("mild"), sequence_seed=2)
    return frames, truth_logits(frames), [detector.detect(f.gt).instances for f in frames]


@pytest.fixture(scope="module")
def fast_run(scene_720p):
    frames, logits, detections = scene_720p
    return _online(frames, logits, detections, LowResLogits)


def _published(frame):
    return [(i.track_id, i.label, int(i.status), i.box.tolist(), i.mask.counts) for i in frame.instances]


def test_windowed_masks_give_the_tracks_of_whole_frame_masks(scene_720p, fast_run):
    reference, _ = _online(*scene_720p, WholeFrameLogits)
    fast, _ = fast_run
    assert [_published(f) for f in fast] == [_published(f) for f in reference]
    assert sum(len(f.instances) for f in fast) > 50  # the comparison covers tracks


def test_contested_pixels_go_to_the_higher_logit(fast_run):
    """Where exactly two tracked masks claim a pixel, the published tracks give it to the higher logit."""
    contested = 0
    for frame, told in zip(*fast_run):
        out = {i.track_id: i.mask.to_array() for i in frame.instances if i.mask is not None and i.mask.area}
        predicted = {t: told[t] for t in out}
        claims = sum(p.mask.astype(int) for p in predicted.values())
        ids = sorted(out)
        for k, a in enumerate(ids):
            for b in ids[k + 1 :]:
                assert not (out[a] & out[b]).any()  # published masks are disjoint
                both = predicted[a].mask & predicted[b].mask & (claims == 2)
                if both.any():
                    contested += int(both.sum())
                    a_wins = predicted[a].logits >= predicted[b].logits
                    assert np.array_equal(out[a][both], a_wins[both]) and np.array_equal(out[b][both], ~a_wins[both])
    assert contested > 1000


def test_offline_fast_and_reference_paths_agree(scene_720p):
    frames, logits, detections = scene_720p
    images, stamps = [f.image for f in frames], [f.stamp_ns for f in frames]
    fast = run_offline(LogitsOfTruth(frames, logits, LowResLogits), images, stamps, detections, FlashConfig())
    reference = run_offline(LogitsOfTruth(frames, logits, WholeFrameLogits), images, stamps, detections, FlashConfig())
    assert [_published(f) for f in fast.frames] == [_published(f) for f in reference.frames]
    assert fast.backfilled_masks == reference.backfilled_masks
