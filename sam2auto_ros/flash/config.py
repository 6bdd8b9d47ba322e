"""Every FLASH threshold in one place, with the default and the reason for it.

The same names are the ``flash_node`` ROS parameters (``config/flash.yaml``), so a value tuned in
the benchmark is the value the live node runs with. Frame counts are counted in frames the tracker
has seen; "batches" are detection batches received (a detector may skip frames, and a track must
not be punished for frames nobody looked at).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sam2auto_ros.core.param_files import read_node_parameters
from sam2auto_ros.core.validation import build_dataclass, check_fields


class FlashConfigError(ValueError):
    """A FLASH parameter that is unknown or outside its valid range."""


@dataclass(frozen=True)
class FlashConfig:
    """FLASH's thresholds. Defaults were tuned on simulator seeds 1000-1019 (see bench_flash)."""

    # -- association ----------------------------------------------------------------------------
    match_iou: float = 0.5
    """Mask IoU a detection needs with a tracked mask to be matched to it (SAM 3 uses 0.5)."""
    rescue_iou: float = 0.2
    """Second pass: a confident detection left unmatched re-claims a left-over track it overlaps at
    least this much (the track drifted off it; it is re-conditioned). Set >= match_iou to disable."""
    rescue_inside: float = 0.7
    """...or a left-over track lying at least this much inside it (the track shrank: an object
    entering the view, a propagator losing parts). 1.0 disables."""
    detection_min_score: float = 0.3
    """Detections below this score are ignored outright (they neither match nor admit)."""

    # -- admission ------------------------------------------------------------------------------
    admit_score: float = 0.6
    """A new track is minted only for a detection at least this confident."""
    admit_min_area: float = 0.002
    """...and only if its mask covers at least this fraction of the image (a sliver of an object
    entering the view is a poor seed: too few pixels to propagate or to re-identify)."""
    admit_max_overlap: float = 0.3
    """...and only if at most this fraction of its mask lies on already tracked pixels."""
    duplicate_iou: float = 0.6
    """Two detections of one frame with mask IoU above this are one object (the weaker is dropped)."""
    track_duplicate_iou: float = 0.7
    """Two live tracks whose masks overlap more than this follow one object; the younger is dropped."""
    min_mask_area: int = 16
    """Detections with fewer mask pixels are ignored (noise, slivers)."""

    # -- life cycle -----------------------------------------------------------------------------
    confirm_hits: int = 2
    """A tentative track is confirmed after this many matched detection batches (false positives
    rarely repeat on one spot; real objects in a detector gap at birth must not die for it)."""
    hotstart_frames: int = 15
    """A tentative track not confirmed within this many frames is removed (SAM 3: 15)."""
    tentative_max_misses: int = 3
    """A tentative track unmatched in this many batches is removed (SAM 3: 8; a false positive
    rarely comes back on one spot, and each batch a dead one lingers is published; 3 on the
    tuning seeds)."""
    keepalive_max: int = 30
    """Keep-alive counter ceiling: +1 per matched batch, -1 per unmatched batch."""
    keepalive_init: int = 10
    """Keep-alive of a freshly confirmed track (enough to ride out a 15-frame detector gap)."""
    occlusion_patience: int = 30
    """Frames a track may stay invisible (propagator object score <= 0) before it is lost."""
    collapse_ratio: float = 0.25
    """A visible track whose propagated mask covers less than this fraction of its reference area
    (the largest of its last ``reference_matches`` matched detections) counts as occluded: a
    propagator that lost a hidden object keeps a scrap of it on whatever is in front, and that
    scrap must neither be published nor stop the object's return from being re-identified.
    Exempt: a mask touching the image border while its track is not moving out across it (an
    object coming into view is first seen in part; what stays behind when one leaves is a
    scrap). 0 disables."""
    reference_matches: int = 10
    """Matched detections over which a track's reference area is the maximum."""

    # -- drift repair ---------------------------------------------------------------------------
    recondition_iou: float = 0.6
    """A matched track whose mask IoU with the detection is below this is re-conditioned on it
    (a detector's ragged mask edges alone keep IoU with a well-tracked small object under 0.75)."""
    recondition_score: float = 0.6
    """Only detections at least this confident re-condition a track."""
    recondition_interval: int = 1
    """Minimum frames between two re-conditionings of one track."""

    # -- re-identification ----------------------------------------------------------------------
    gallery_size: int = 64
    """Lost tracks remembered for re-identification (oldest forgotten first)."""
    gallery_max_age: int = 900
    """Frames a lost track stays re-identifiable (30 s at 30 fps)."""
    reid_max_cost: float = 0.65
    """A new detection takes a lost track's id when their combined cost is below this."""
    reid_appearance_weight: float = 0.5
    """Weight of the colour-histogram distance (Bhattacharyya, 0..1) in the re-id cost."""
    reid_motion_weight: float = 0.5
    """Weight of the distance from the lost track's predicted position (in image diagonals)."""
    reid_max_appearance: float = 0.7
    """Re-id is refused when the histogram distance alone exceeds this."""
    reid_motion_horizon: int = 30
    """Frames over which the lost track's last velocity is extrapolated (then held)."""
    reid_motion_radius: float = 0.25
    """Distance (fraction of the image diagonal) at which the motion cost saturates at 1; it
    widens by this much again for every ``reid_motion_horizon`` frames the track has been unseen."""
    appearance_momentum: float = 0.8
    """Running colour histogram: new = momentum * old + (1 - momentum) * observed."""
    histogram_bins: int = 8
    """Bins per HSV channel (hue, saturation) of the appearance descriptor."""
    appearance_interval: int = 5
    """Frames between two refreshes of a matched track's histogram (appearance changes slowly and
    each refresh decodes a mask; 1 refreshes on every match)."""

    # -- capacity -------------------------------------------------------------------------------
    max_objects: int = 32
    """Live tracks held in the propagator at most; see ``eviction`` in tracker.py."""
    max_labels_per_track: int = 8
    """Distinct labels whose votes a track keeps (the weakest vote is dropped beyond this)."""

    # -- timing ---------------------------------------------------------------------------------
    history_frames: int = 16
    """Recent frames whose stamps/masks are kept, so late detections can be associated."""
    stamp_tolerance_ns: int = 0
    """A detection stamp matches a frame stamp within this tolerance (0 = exact)."""

    # -- output ---------------------------------------------------------------------------------
    non_overlapping: bool = True
    """Give each pixel to one track only (by mask logit, else by keep-alive)."""

    # -- offline --------------------------------------------------------------------------------
    offline_min_track_frames: int = 10
    """Offline: tracks visible on fewer frames than this are dropped."""
    offline_backfill_frames: int = 30
    """Offline: frames to propagate backwards before each track's first detection (0 = off)."""
    offline_reverse_fill: bool = True
    """Offline: between two detections of a track, use the mask carried back from the later one
    where it is nearer than the earlier one (one reverse propagation pass)."""

    def __post_init__(self) -> None:
        check_fields(self, error=FlashConfigError)
        unit = ("match_iou", "rescue_iou", "rescue_inside", "detection_min_score", "admit_score", "admit_max_overlap", "duplicate_iou",
                "track_duplicate_iou", "recondition_iou", "recondition_score", "reid_appearance_weight",
                "reid_motion_weight", "reid_max_appearance", "appearance_momentum", "reid_motion_radius", "admit_min_area",
                "collapse_ratio")
        for name in unit:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise FlashConfigError(f"{name} must lie in [0, 1], got {getattr(self, name)}")
        positive = ("confirm_hits", "hotstart_frames", "tentative_max_misses", "keepalive_max",
                    "keepalive_init", "max_objects", "max_labels_per_track", "history_frames",
                    "histogram_bins", "reid_motion_horizon", "reference_matches",
                    "appearance_interval")
        for name in positive:
            if getattr(self, name) < 1:
                raise FlashConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        non_negative = ("min_mask_area", "occlusion_patience", "recondition_interval", "gallery_size",
                        "gallery_max_age", "stamp_tolerance_ns", "offline_min_track_frames",
                        "offline_backfill_frames")
        for name in non_negative:
            if getattr(self, name) < 0:
                raise FlashConfigError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.reid_max_cost < 0:
            raise FlashConfigError(f"reid_max_cost must not be negative, got {self.reid_max_cost}")
        if self.keepalive_init > self.keepalive_max:
            raise FlashConfigError(
                f"keepalive_init ({self.keepalive_init}) must not exceed keepalive_max ({self.keepalive_max})"
            )

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> FlashConfig:
        """Build from a flat mapping (ROS parameters, YAML); unknown names and wrong types are an error, not ignored."""
        return build_dataclass(cls, params, error=FlashConfigError, what="FLASH ")

    @classmethod
    def from_yaml(cls, path: str, node: str = "flash_node") -> FlashConfig:
        """The parameters a node named ``node`` gets from a ROS 2 parameter file such as
        config/flash.yaml, matched as rcl matches them (``/**/flash_node`` etc.)."""
        return cls.from_dict(read_node_parameters(path, node, error=FlashConfigError))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> FlashConfig:
        return dataclasses.replace(self, **changes)
