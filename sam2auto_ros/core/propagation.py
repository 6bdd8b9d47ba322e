"""The contract between FLASH and whatever carries masks from frame to frame.

Three implementations stand behind it: the SAM 2 streaming engine on torch (the reference), the
same engine on onnxruntime, and a weight-free optical-flow fallback for machines without model
weights. FLASH only ever talks to this protocol, so it never knows which one runs.

Frames are numbered by the propagator in arrival order (0, 1, 2, ...). ``add_object`` may name
a recent earlier frame (detections arrive late): the propagator conditions the object there and
carries it forward to the newest frame before returning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol, runtime_checkable

import numpy as np

from sam2auto_ros.core.masks import RleMask
from sam2auto_ros.core.predicted_masks import PredictedMask


class PropagationError(ValueError):
    """A request the propagator cannot honour: bad image, unknown object, stale frame, bad prompt."""


@dataclass(frozen=True)
class ObjectPrediction:
    """One object's state on one frame.

    ``predicted`` is the mask in the form the model made it (SAM 2: logits at its own resolution;
    the fallback: pixels inside a box), made full-resolution only where read: ``rle()`` is what
    FLASH tracks and publishes. ``object_score`` is SAM 2's occlusion logit: > 0 means the object
    is judged visible. ``iou`` is the mask decoder's predicted IoU (a confidence for the mask, in
    [0, 1]).
    """

    obj_id: int
    frame_index: int
    predicted: PredictedMask
    object_score: float
    iou: float

    def rle(self) -> RleMask:
        """The full-resolution mask, computed once."""
        return self.predicted.rle()

    @property
    def visible(self) -> bool:
        return self.object_score > 0.0 and not self.predicted.empty

    @cached_property
    def mask(self) -> np.ndarray:
        """The whole frame's mask, ``bool (H, W)``: the reference path (tests, comparisons), not FLASH's."""
        return self.predicted.to_array()

    @cached_property
    def logits(self) -> np.ndarray | None:
        """The mask logits over the whole frame when the model has them (reference path, like ``mask``)."""
        return self.predicted.to_logits()


@dataclass(frozen=True)
class Prompt:
    """What an object is conditioned on: a mask, a box, or points (one of them, or box + points).

    ``box`` is ``[x_min, y_min, x_max, y_max]`` in pixels; ``points`` is ``(N, 2)`` ``(x, y)`` with
    ``point_labels`` 1 (foreground) / 0 (background).
    """

    mask: np.ndarray | None = None
    box: Sequence[float] | None = None
    points: np.ndarray | None = None
    point_labels: np.ndarray | None = None


@runtime_checkable
class Propagator(Protocol):
    """Per-frame multi-object mask propagation with bounded memory."""

    #: a short name for logs and the status topic, e.g. "sam2-torch", "sam2-onnx", "flow-fallback"
    name: str

    def step(self, image: np.ndarray) -> dict[int, ObjectPrediction]:
        """Ingest the next frame (RGB uint8, ``(H, W, 3)``) and propagate every object onto it."""
        ...

    def add_object(self, obj_id: int, prompt: Prompt, frame_index: int | None = None) -> ObjectPrediction:
        """Add a new object, or re-condition an existing one, on ``frame_index`` (default newest).

        Returns the object's prediction on the newest frame.
        """
        ...

    def remove_object(self, obj_id: int) -> None:
        """Forget an object and free its memory. Unknown ids raise ``PropagationError``."""
        ...

    @property
    def object_ids(self) -> list[int]: ...

    @property
    def frame_index(self) -> int:
        """Index of the newest frame ingested; -1 before the first."""
        ...

    @property
    def oldest_promptable_frame(self) -> int:
        """The oldest frame ``add_object`` still accepts (bounded ring of recent frames)."""
        ...

    def reset(self) -> None:
        """Drop all objects and frames (a new sequence)."""
        ...
