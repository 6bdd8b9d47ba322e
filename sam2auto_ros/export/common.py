"""What every dataset exporter shares: the category table and which instances count as visible."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from sam2auto_ros.core.instance import FrameInstances, Instance, InstanceStatus
from sam2auto_ros.core.masks import RleMask
from sam2auto_ros.core.validation import ValidationError, check_class_names


class ExportError(ValueError):
    """Tracks that cannot be written in the asked format (unknown label, id out of range...)."""


class Categories:
    """The label map: label name <-> dataset category id (1-based, as COCO and MOTS want)."""

    def __init__(self, names: Sequence[str]) -> None:
        try:
            self.names = tuple(check_class_names(list(names), "categories"))
        except ValidationError as exc:
            raise ExportError(str(exc)) from exc
        self._ids = {name: i + 1 for i, name in enumerate(self.names)}

    @classmethod
    def from_frames(cls, frames: Iterable[FrameInstances]) -> Categories:
        """Every non-empty label seen, sorted, for exports without a given label map."""
        return cls(sorted({i.label for f in frames for i in f.instances if i.label}))

    def id_of(self, label: str) -> int:
        try:
            return self._ids[label]
        except KeyError:
            raise ExportError(
                f"label {label!r} is not in the categories ({', '.join(self.names) or 'none'}); "
                "pass the full class list"
            ) from None

    def to_coco(self) -> list[dict]:
        return [{"id": self._ids[n], "name": n, "supercategory": "object"} for n in self.names]


def is_visible(inst: Instance) -> bool:
    """A labelled instance seen in its frame: not an occlusion placeholder, not a proposal."""
    return bool(inst.label) and inst.status != InstanceStatus.OCCLUDED


def pixels_of(inst: Instance) -> RleMask | None:
    """The instance's mask if it has any pixels (exporters skip the rest)."""
    return inst.mask if inst.mask is not None and inst.mask.area > 0 else None


def tracked(frames: Sequence[FrameInstances]) -> list[tuple[int, FrameInstances, list[Instance]]]:
    """``(frame number, frame, visible tracked instances)`` for every frame, in order."""
    return [(n, f, [i for i in f.instances if i.has_track and is_visible(i)]) for n, f in enumerate(frames)]


def non_overlapping(instances: Sequence[Instance]) -> list[tuple[Instance, RleMask]]:
    """Each instance with its mask minus the pixels of higher-scoring instances (empty ones dropped)."""
    taken: np.ndarray | None = None
    out = []
    for inst in sorted(instances, key=lambda i: -i.score):
        mask = pixels_of(inst)
        if mask is None:
            continue
        pixels = mask.to_array()
        if taken is None:
            taken = np.zeros_like(pixels)
        pixels = pixels & ~taken
        taken |= pixels
        if pixels.any():
            out.append((inst, RleMask.from_array(pixels)))
    return out
