"""``OpticalFlowPropagator``: the weight-free FALLBACK ``Propagator`` (the SAM 2 engine is the real one).

How it follows an object without a learned model:

1. OpenCV's DIS optical flow is computed once per frame (previous -> new), shared by all objects.
2. Each object's motion is a rigid transform fitted robustly to the flow inside its visible mask
   (``motion.fit_rigid``); composed onto its pose, it predicts where the object is now.
3. The object's appearance template (grey pixels and full shape, taken when it was conditioned)
   is aligned to the new frame from that prediction with OpenCV's ECC (rigid, over the template
   pixels seen last frame).
4. A pixel of the full shape counts as visible where the frame matches the template (windowed
   mean absolute difference after a per-object gain, which follows lighting). Occluders and
   look-alikes seen at the wrong alignment fail that test. Of the candidate poses (ECC's, the
   flow prediction, the last motion repeated: an occluder's flow can corrupt the measured
   motion), the one with the most matching pixels wins; ``iou`` is how well those pixels match.
5. With no visible pixels (hidden or out of frame) the object coasts on its last motion, slowing
   down, so it is found again when it reappears near where it was expected.

It assumes roughly rigid objects; deforming objects drift until FLASH re-conditions them from a
detection. ``object_score`` mimics SAM 2's occlusion logit:
``log(visible_area / (visible_fraction * template_area))``, positive while more than
``visible_fraction`` of the object is seen. A bounded ring of the last ``history`` frames (RGB,
grey, flow) lets ``add_object`` condition on a recent older frame and carry the object forward; memory is that
ring plus one template and mask per object, flat over any stream length.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from sam2auto_ros.core.predicted_masks import BoxedMask
from sam2auto_ros.core.propagation import ObjectPrediction, Prompt, PropagationError
from sam2auto_ros.core.rgb import check_rgb
from sam2auto_ros.fallback.motion import IDENTITY, compose, damp, fit_rigid, invert
from sam2auto_ros.fallback.prompts import prompt_mask

_SCORE_LIMIT = 10.0  # object_score is clipped to +-this; a vanished object scores -limit
_MATCH_WINDOW = 5  # side of the window over which template and frame are compared
_MAX_SAMPLES = 200  # flow vectors used per object and frame
_MIN_INLIERS = 0.5  # a motion fit with fewer inliers is not trusted (the object coasts)
_COAST_DAMPING = 0.85  # per-frame slow-down of a coasting object's motion
_GOOD_ENOUGH = 0.9  # ECC's pose is taken without trying others if it keeps this share of visible pixels
_ECC_MARGIN = 8  # pixels around the predicted object that ECC may move it into
_ECC_MIN_PIXELS = 30  # fewer seen template pixels than this: trust the flow prediction alone
_ECC_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 1e-4)


@dataclass
class _Track:
    template: np.ndarray  # float32 (h, w): grey appearance in template coordinates
    shape: np.ndarray  # uint8 (h, w): the full object shape in template coordinates
    pose: np.ndarray  # 2x3: template coordinates -> newest frame
    motion: np.ndarray  # 2x3: last frame-to-frame motion
    mask: np.ndarray  # bool (H, W), column-major: visible pixels on the newest frame
    box: tuple[int, int, int, int]  # frame box holding every visible pixel
    visible_count: int
    gain: float = 1.0  # frame brightness relative to the template
    iou: float = 1.0

    @property
    def area(self) -> float:
        return float(self.shape.sum())


@dataclass
class _View:
    """The template placed at one candidate pose: its matching pixels inside ``box``."""

    pose: np.ndarray
    box: tuple[int, int, int, int] = (0, 0, 0, 0)
    visible: np.ndarray | None = None  # bool, box-sized
    count: int = 0
    gain: float = 1.0
    fit: float = 0.0  # photometric agreement of the visible pixels, in (0, 1]


@dataclass
class _Frame:
    index: int
    image: np.ndarray  # RGB uint8: what box/point prompts are segmented on
    gray: np.ndarray  # uint8
    flow: np.ndarray | None  # float16 (H, W, 2): previous frame -> this frame; None for the first


class OpticalFlowPropagator:
    """Flow-driven template tracking of masks; see the module docstring. A fallback, not SAM 2."""

    name = "flow-fallback"

    def __init__(
        self,
        history: int = 8,
        visible_fraction: float = 0.2,
        match_threshold: float = 20.0,
        max_objects: int = 64,
        flow_preset: int = cv2.DISOPTICAL_FLOW_PRESET_FAST,
    ) -> None:
        """``history``: frames ``add_object`` can reach back; ``match_threshold``: mean grey-level
        difference above which a template pixel is judged not visible."""
        if history < 1:
            raise ValueError(f"history must be >= 1 frame, got {history}")
        if not 0.0 < visible_fraction < 1.0:
            raise ValueError(f"visible_fraction must be in (0, 1), got {visible_fraction}")
        if match_threshold <= 0:
            raise ValueError(f"match_threshold must be > 0, got {match_threshold}")
        if max_objects < 1:
            raise ValueError(f"max_objects must be >= 1, got {max_objects}")
        self.history = history
        self.visible_fraction = visible_fraction
        self.match_threshold = match_threshold
        self.max_objects = max_objects
        self._flow = cv2.DISOpticalFlow_create(flow_preset)
        self.reset()

    # -- Propagator ---------------------------------------------------------------------------
    def reset(self) -> None:
        self._ring: deque[_Frame] = deque(maxlen=self.history)
        self._tracks: dict[int, _Track] = {}
        self._index = -1

    @property
    def object_ids(self) -> list[int]:
        return list(self._tracks)

    @property
    def frame_index(self) -> int:
        return self._index

    @property
    def oldest_promptable_frame(self) -> int:
        return self._ring[0].index if self._ring else 0

    def step(self, image: np.ndarray) -> dict[int, ObjectPrediction]:
        """Ingest the next RGB frame and move every object onto it."""
        image = self._check_image(image)
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        flow = self._flow.calc(self._ring[-1].gray, gray, None) if self._ring else None
        self._index += 1
        self._ring.append(_Frame(self._index, image.copy(), gray, None if flow is None else flow.astype(np.float16)))
        if flow is not None:
            for track in self._tracks.values():
                self._advance(track, flow, gray)
        return {obj_id: self._prediction(obj_id, track) for obj_id, track in self._tracks.items()}

    def add_object(self, obj_id: int, prompt: Prompt, frame_index: int | None = None) -> ObjectPrediction:
        """Condition ``obj_id`` on ``frame_index`` (default newest) and carry it to the newest frame."""
        obj_id = _check_obj_id(obj_id)
        if self._index < 0:
            raise PropagationError("no frame yet: call step(image) before add_object")
        t = self._index if frame_index is None else int(frame_index)
        if not self.oldest_promptable_frame <= t <= self._index:
            raise PropagationError(
                f"frame {t} is not promptable: the fallback keeps frames {self.oldest_promptable_frame}..{self._index} "
                f"(history={self.history}); raise history or prompt a newer frame"
            )
        if obj_id not in self._tracks and len(self._tracks) >= self.max_objects:
            raise PropagationError(
                f"already tracking max_objects={self.max_objects}; remove_object() one first or raise max_objects"
            )
        frames = list(self._ring)[t - self.oldest_promptable_frame :]
        mask = prompt_mask(prompt, frames[0].image)
        track = _new_track(mask, frames[0].gray)
        for frame in frames[1:]:
            self._advance(track, frame.flow.astype(np.float32), frame.gray)
        self._tracks[obj_id] = track
        return self._prediction(obj_id, track)

    def remove_object(self, obj_id: int) -> None:
        if obj_id not in self._tracks:
            raise PropagationError(f"unknown object id {obj_id!r}; tracked ids: {self.object_ids}")
        del self._tracks[obj_id]

    # -- introspection ------------------------------------------------------------------------
    def memory_bytes(self) -> int:
        """Bytes held in the frame ring and the per-object state (flat once the ring is full)."""
        ring = sum(f.image.nbytes + f.gray.nbytes + (0 if f.flow is None else f.flow.nbytes) for f in self._ring)
        return ring + sum(t.template.nbytes + t.shape.nbytes + t.mask.nbytes for t in self._tracks.values())

    # -- tracking -----------------------------------------------------------------------------
    def _advance(self, track: _Track, flow: np.ndarray, gray: np.ndarray) -> None:
        """Move ``track`` from the previous frame onto ``gray`` along ``flow``.

        Candidate poses: the flow prediction, its ECC refinement and the last motion repeated
        (an occluder's flow can corrupt the measured motion); the one under which the most
        template pixels match the frame wins.
        """
        motion = self._measure(track, flow)
        coasting = compose(damp(track.motion, _COAST_DAMPING), track.pose)
        candidates = [coasting] if motion is None else [compose(motion, track.pose), coasting]
        aligned = self._align(track, candidates[0], gray)
        best = _View(track.pose)
        if aligned is not None:
            best = self._view(track, aligned, gray)
        if best.count < _GOOD_ENOUGH * track.visible_count:  # ECC failed or lost pixels: try the others
            best = max((best, *(self._view(track, pose, gray) for pose in candidates)), key=lambda v: v.count)
        track.motion = compose(best.pose, invert(track.pose))
        track.pose = best.pose
        track.mask = np.zeros(gray.shape, bool, order="F")  # column-major: what COCO RLE encodes
        track.box = best.box
        track.visible_count = best.count
        if best.count:
            x0, y0, x1, y1 = best.box
            track.mask[y0:y1, x0:x1] = best.visible
            track.gain = best.gain
        track.iou = best.fit

    def _align(self, track: _Track, pose: np.ndarray, gray: np.ndarray) -> np.ndarray | None:
        """ECC-refined pose of the template around ``pose``; None if ECC cannot run or diverges."""
        height, width = gray.shape
        seen = cv2.warpAffine(
            track.mask.astype(np.uint8), track.pose, track.shape.shape[::-1],
            flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
        ) & track.shape
        if int(seen.sum()) < _ECC_MIN_PIXELS:
            return None
        box = self._frame_box(track.shape.shape, pose, height, width, _ECC_MARGIN)
        if box is None:
            return None
        x0, y0, x1, y1 = box
        local = pose.copy()
        local[:, 2] -= (x0, y0)
        roi = gray[y0:y1, x0:x1].astype(np.float32)
        try:
            _, warp = cv2.findTransformECCWithMask(
                track.template, roi, seen, np.ones_like(roi, np.uint8), local.astype(np.float32),
                cv2.MOTION_EUCLIDEAN, _ECC_CRITERIA, 5,
            )
        except cv2.error:  # ECC did not converge (too little texture, or lost)
            return None
        warp = warp.astype(np.float64)
        warp[:, 2] += (x0, y0)
        return warp

    @staticmethod
    def _frame_box(
        shape: tuple[int, int], pose: np.ndarray, height: int, width: int, margin: int = 0
    ) -> tuple[int, int, int, int] | None:
        """Frame-clipped box ``(x0, y0, x1, y1)`` around a ``shape``-sized template at ``pose``."""
        th, tw = shape
        corners = np.array([[0, 0, 1], [tw, 0, 1], [0, th, 1], [tw, th, 1]], np.float64) @ pose.T
        x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int) - margin, 0)
        x1 = min(int(np.ceil(corners[:, 0].max())) + margin, width)
        y1 = min(int(np.ceil(corners[:, 1].max())) + margin, height)
        if x1 <= x0 or y1 <= y0:
            return None
        return int(x0), int(y0), int(x1), int(y1)

    @staticmethod
    def _measure(track: _Track, flow: np.ndarray) -> np.ndarray | None:
        if track.visible_count == 0:
            return None
        x0, y0, x1, y1 = track.box
        mask = track.mask[y0:y1, x0:x1].astype(np.uint8)
        inner = cv2.erode(mask, np.ones((3, 3), np.uint8))
        ys, xs = np.nonzero(inner if inner.any() else mask)
        if len(ys) > _MAX_SAMPLES:
            pick = np.linspace(0, len(ys) - 1, _MAX_SAMPLES).astype(np.int64)
            ys, xs = ys[pick], xs[pick]
        ys, xs = ys + y0, xs + x0
        src = np.stack([xs, ys], axis=1).astype(np.float64)
        fitted = fit_rigid(src, src + flow[ys, xs].astype(np.float64))
        if fitted is None or fitted[1] < _MIN_INLIERS:
            return None
        return fitted[0]

    def _view(self, track: _Track, pose: np.ndarray, gray: np.ndarray) -> _View:
        """The template placed at ``pose``: which of its pixels the frame agrees with."""
        height, width = gray.shape
        box = self._frame_box(track.shape.shape, pose, height, width)
        if box is None:
            return _View(pose)
        x0, y0, x1, y1 = box
        local = pose.copy()
        local[:, 2] -= (x0, y0)
        size = (x1 - x0, y1 - y0)
        shape = cv2.warpAffine(track.shape, local, size, flags=cv2.INTER_NEAREST).astype(np.float32)
        if not shape.any():
            return _View(pose)
        template = cv2.warpAffine(track.template, local, size, flags=cv2.INTER_LINEAR)
        frame = gray[y0:y1, x0:x1].astype(np.float32)
        window = (_MATCH_WINDOW, _MATCH_WINDOW)
        error = np.abs(frame - track.gain * template) * shape
        weight = cv2.boxFilter(shape, -1, window, normalize=False)
        mean_error = cv2.boxFilter(error, -1, window, normalize=False) / np.maximum(weight, 1.0)
        visible = (shape > 0) & (mean_error < self.match_threshold)
        count = int(visible.sum())
        if count == 0:
            return _View(pose)
        gain = float(np.clip(np.median(frame[visible] / np.maximum(template[visible], 1.0)), 0.5, 2.0))
        fit = math.exp(-float(mean_error[visible].mean()) / self.match_threshold)
        return _View(pose, box, visible, count, gain, fit)

    def _prediction(self, obj_id: int, track: _Track) -> ObjectPrediction:
        visible = float(track.visible_count)  # the pixels of track.mask, all inside track.box
        if visible == 0:
            score = -_SCORE_LIMIT
        else:
            score = math.log(visible / (self.visible_fraction * max(track.area, 1.0)))
            score = max(-_SCORE_LIMIT, min(_SCORE_LIMIT, score))
        x0, y0, x1, y1 = track.box if visible else (0, 0, 0, 0)
        # a view: track.mask is replaced, never written, once the frame's pixels are in it
        pixels = BoxedMask(track.mask[y0:y1, x0:x1], x0, y0, track.mask.shape)
        return ObjectPrediction(obj_id, self._index, pixels, score, track.iou if visible else 0.0)

    def _check_image(self, image: object) -> np.ndarray:
        image = check_rgb(image, PropagationError, min_side=8)  # smaller: no optical flow
        if self._ring and image.shape[:2] != self._ring[-1].gray.shape:
            raise PropagationError(
                f"frame size changed from {self._ring[-1].gray.shape} to {image.shape[:2]}; "
                "call reset() to start a new sequence"
            )
        return image


def _new_track(mask: np.ndarray, gray: np.ndarray) -> _Track:
    """A track whose template is ``mask``'s pixels on ``gray`` (its pose: where it was cut from)."""
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    pose = IDENTITY.copy()
    pose[:, 2] = (x0, y0)
    return _Track(
        template=gray[y0:y1, x0:x1].astype(np.float32),
        shape=mask[y0:y1, x0:x1].astype(np.uint8),
        pose=pose,
        motion=IDENTITY.copy(),
        mask=np.array(mask, dtype=bool, order="F"),
        box=(int(x0), int(y0), int(x1), int(y1)),
        visible_count=int(mask.sum()),
    )


def _check_obj_id(obj_id: object) -> int:
    if isinstance(obj_id, bool) or not isinstance(obj_id, (int, np.integer)):
        raise PropagationError(f"object id must be an int, got {obj_id!r}")
    return int(obj_id)
