"""Every SMART-OD parameter, with its default and why; mirrored in ``config/smart_od.yaml``.

The YAML file is in ROS 2 ``ros__parameters`` style under the node name ``smart_od_node``;
nested sections (``amg``, ``detector``, ``threshold``, ``roi``, ``slicing``, ``pairing``) become
dotted parameter names on the node (``amg.points_per_side``). The same dataclasses configure
the offline pipeline, so the node and the bag annotator read one file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sam2auto_ros.core.param_files import read_node_parameters
from sam2auto_ros.core.validation import ValidationError, build_dataclass, check_class_names, check_fields

THRESHOLD_METHODS = ("mean_std", "kmeans", "kmeans_mean_std", "two_stage", "kmeans_bayes", "fixed")
DETECTOR_BACKENDS = ("owlv2", "grounding_dino", "onnx")


class ConfigError(ValueError):
    """A SMART-OD parameter that is missing, unknown or out of range."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _class_names(names: Any, what: str) -> list[str]:
    try:
        return check_class_names(names, what)
    except ValidationError as exc:
        raise ConfigError(str(exc)) from exc


def _unit(name: str, value: float) -> None:
    _check(0.0 <= value <= 1.0, f"{name} must lie in [0, 1], got {value}")


@dataclass
class AmgConfig:
    """Automatic mask generation (SAM 2's own defaults, tuned upstream for Hiera-L)."""

    points_per_side: int = 32  # grid of points_per_side**2 single-point prompts
    points_per_batch: int = 64  # prompts decoded together; memory ~ batch * 3 masks * frame size
    pred_iou_thresh: float = 0.8  # keep masks whose predicted IoU exceeds this
    stability_score_thresh: float = 0.95  # keep masks stable under +-offset logit cutoffs
    stability_score_offset: float = 1.0
    mask_threshold: float = 0.0  # logit cutoff that binarises masks
    box_nms_thresh: float = 0.7  # box IoU above which the lower-IoU duplicate is dropped
    multimask_output: bool = True  # 3 masks per point (whole / part / subpart)
    crop_n_layers: int = 0  # >0 re-runs on 2**i x 2**i crops (each crop is encoded again)
    crop_nms_thresh: float = 0.7
    crop_overlap_ratio: float = 512 / 1500
    crop_n_points_downscale_factor: int = 1
    min_mask_area: int = 0  # drop proposals smaller than this many pixels

    def __post_init__(self) -> None:
        check_fields(self, "amg.", ConfigError)
        _check(self.points_per_side >= 1, f"amg.points_per_side must be >= 1, got {self.points_per_side}")
        _check(self.points_per_batch >= 1, f"amg.points_per_batch must be >= 1, got {self.points_per_batch}")
        for name in ("pred_iou_thresh", "stability_score_thresh", "box_nms_thresh", "crop_nms_thresh"):
            _unit(f"amg.{name}", getattr(self, name))
        _check(self.crop_n_layers >= 0, "amg.crop_n_layers must be >= 0")
        _check(0.0 <= self.crop_overlap_ratio < 1.0, "amg.crop_overlap_ratio must lie in [0, 1)")
        _check(self.crop_n_points_downscale_factor >= 1, "amg.crop_n_points_downscale_factor must be >= 1")


@dataclass
class DetectorConfig:
    """The open-vocabulary detector and the classes it looks for (changeable at run time)."""

    backend: str = "owlv2"  # owlv2 | grounding_dino | onnx
    # A registry name (`sam2auto models list`: owlv2-base, owlv2-large, grounding-dino-tiny, ...),
    # a local save_pretrained folder or hub name; for onnx an export folder or a .onnx file. A
    # registry name with backend onnx means its export: `sam2auto export --detector owlv2 --model NAME`.
    model: str = "owlv2-base"
    class_names: list[str] = field(default_factory=lambda: ["person", "car", "bicycle", "dog"])
    # The backend's own pre-filter. Deliberately low: the dynamic threshold needs to see the
    # frame's whole score distribution, noise included. The statistics do depend on it
    # (bench_smart_od, tune split, F1 gap to the best fixed cut at floor 0 / 0.02 / 0.05 / 0.1:
    # clutter -3.3 / -2.9 / -2.1 / -0.8, low-confidence -0.6 / -0.6 / -0.9 / -2.6).
    score_floor: float = 0.05
    max_detections: int = 300  # highest-scoring detections kept per call
    nms_iou: float = 0.7  # class-aware NMS on every backend's output (1.0 disables)
    device: str = "cpu"
    # onnx: tried in order; one missing here is a warning naming what runs instead
    onnx_providers: list[str] = field(default_factory=lambda: ["tensorrt", "cuda", "cpu"])
    precision: str = "fp32"  # onnx: fp32 | fp16 graphs (an export of the other precision is refused)
    # Class-name embeddings kept per name (least recently used out first): a vocabulary change
    # embeds only the names not held. 1024 names of OWLv2-base take 2 MB.
    text_cache_size: int = 1024

    def __post_init__(self) -> None:
        check_fields(self, "detector.", ConfigError)
        _check(self.backend in DETECTOR_BACKENDS, f"unknown detector.backend {self.backend!r}; use one of {DETECTOR_BACKENDS}")
        _unit("detector.score_floor", self.score_floor)
        _check(self.max_detections >= 1, "detector.max_detections must be >= 1")
        _unit("detector.nms_iou", self.nms_iou)
        _check(self.precision in ("fp32", "fp16"), f"detector.precision must be fp32 or fp16, got {self.precision!r}")
        _check(self.text_cache_size >= 1, f"detector.text_cache_size must be >= 1, got {self.text_cache_size}")
        self.class_names = _class_names(self.class_names, "detector.class_names")


@dataclass
class ThresholdConfig:
    """Dynamic score threshold from the frame's own score distribution."""

    # mean_std | kmeans | kmeans_mean_std | two_stage | kmeans_bayes | fixed. kmeans_bayes is the
    # one that stayed within a few F1 points of the hindsight-best fixed threshold on every scene
    # type of bench_smart_od (two_stage's second split and the Gaussian one-mode test were unstable).
    method: str = "kmeans_bayes"
    theta_min: float = 0.2  # floor: final threshold = max(theta_dynamic, theta_min)
    # Ceiling: a detection at least this confident is never cut by statistics. Without it, a scene
    # of only confident objects whose scores hold steady (a static camera: 0.9 and 0.85, frame
    # after frame) pools into two tight modes and the weaker object is cut as "noise".
    theta_max: float = 0.6
    fixed_threshold: float = 0.3  # used by method "fixed" (the hand-tuned baseline)
    kmeans_k: int = 3  # clusters for kmeans / kmeans_mean_std
    min_scores: int = 4  # fewer scores than this: no statistics, theta_min alone decides
    # Skip the cut when one Beta explains the scores better than a two-Beta mixture (BIC): a frame
    # of only confident detections keeps them all; theta_min alone removes a frame of only weak ones.
    unimodal_guard: bool = True
    # Statistics over the scores of the last N frames (this one included). A stream's score
    # distribution changes slowly, and one frame's 3-10 detections are too few for clusters:
    # pooling 30 frames lifted the default's F1 by 5-20 points in bench_smart_od. 1 = per frame.
    window_frames: int = 30
    # Carry the last statistical cut ("method") through up to N frames whose pool has too few
    # scores or looks like one mode: a small pool mostly lacks the evidence, not the false
    # positives, and its verdict "no cut" let every one above theta_min through. N counts frames
    # since that cut, so a scene that really changed is re-judged at most N frames after its pool
    # turned one-mode. bench_smart_od, tune split, score floor 0, window 1 (per-frame pools), hold 10 vs 0: F1
    # sparse 78.4 vs 59.8, clutter 73.7 vs 63.5, low-confidence 79.1 vs 72.8, sim scenes +1.9 to
    # +3.3, objects-only 98.4 vs 99.9 (a rare cut inside steady objects is held too); the pooled
    # default was unchanged there. 0 = off. The state belongs to one stream (ScoreWindow, one per
    # SmartOD) and ``reset``/``set_classes`` clear it.
    hold_frames: int = 10

    def __post_init__(self) -> None:
        check_fields(self, "threshold.", ConfigError)
        _check(self.method in THRESHOLD_METHODS, f"unknown threshold.method {self.method!r}; use one of {THRESHOLD_METHODS}")
        _unit("threshold.theta_min", self.theta_min)
        _unit("threshold.theta_max", self.theta_max)
        _check(self.theta_max >= self.theta_min, "threshold.theta_max must be >= threshold.theta_min")
        _unit("threshold.fixed_threshold", self.fixed_threshold)
        _check(self.kmeans_k >= 2, "threshold.kmeans_k must be >= 2")
        _check(self.min_scores >= 2, "threshold.min_scores must be >= 2")
        _check(self.window_frames >= 1, "threshold.window_frames must be >= 1")
        _check(self.hold_frames >= 0, "threshold.hold_frames must be >= 0 (0 = off)")


@dataclass
class RoiConfig:
    """DBSCAN of detection boxes into regions of interest."""

    # Distance between boxes = distance of their centres / frame diagonal.
    eps: float = 0.1
    min_samples: int = 1  # 1: every box belongs to a region (a lone box is its own region)
    padding: float = 0.1  # each region grows by this fraction of its size on every side
    max_rois: int = 8  # regions re-detected per frame, largest score mass first

    def __post_init__(self) -> None:
        check_fields(self, "roi.", ConfigError)
        _check(self.eps > 0, "roi.eps must be > 0")
        _check(self.min_samples >= 1, "roi.min_samples must be >= 1")
        _check(self.padding >= 0, "roi.padding must be >= 0")
        _check(self.max_rois >= 0, "roi.max_rois must be >= 0")


@dataclass
class SlicingConfig:
    """Sliced (SAHI-style) re-detection inside each region, and the verification it feeds."""

    enabled: bool = True  # off: verification is skipped, the score threshold alone decides
    slice_size: int = 512  # slice side in pixels of the original frame
    overlap_ratio: float = 0.2  # overlap of neighbouring slices
    include_full_roi: bool = True  # also detect on the whole region (as SAHI's standard pass)
    verify_iou: float = 0.5  # theta_v: best IoU with a sliced prediction must exceed this
    same_label: bool = True  # the sliced prediction must carry the same class

    def __post_init__(self) -> None:
        check_fields(self, "slicing.", ConfigError)
        _check(self.slice_size >= 16, "slicing.slice_size must be >= 16 pixels")
        _check(0.0 <= self.overlap_ratio < 1.0, "slicing.overlap_ratio must lie in [0, 1)")
        _unit("slicing.verify_iou", self.verify_iou)


@dataclass
class PairingConfig:
    """How detections and generated masks are paired."""

    min_box_iou: float = 0.5  # a detection claims a proposal only above this box IoU
    min_coverage: float = 0.8  # ... or when this fraction of the proposal lies in the box
    box_prompt_fallback: bool = True  # unclaimed detections get a mask from their box prompt
    keep_unlabelled: bool = False  # return unclaimed proposals as label "" instances

    def __post_init__(self) -> None:
        check_fields(self, "pairing.", ConfigError)
        _unit("pairing.min_box_iou", self.min_box_iou)
        _unit("pairing.min_coverage", self.min_coverage)


@dataclass
class SmartODConfig:
    """All of SMART-OD; ``from_yaml`` reads ``config/smart_od.yaml``."""

    amg: AmgConfig = field(default_factory=AmgConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    threshold: ThresholdConfig = field(default_factory=ThresholdConfig)
    roi: RoiConfig = field(default_factory=RoiConfig)
    slicing: SlicingConfig = field(default_factory=SlicingConfig)
    pairing: PairingConfig = field(default_factory=PairingConfig)
    generate_masks: bool = True  # off: boxes only (no SAM 2 model needed)

    def __post_init__(self) -> None:
        check_fields(self, "", ConfigError)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SmartODConfig:
        """Nested sections or dotted keys (``{"amg.points_per_side": 16}``); unknown keys, wrong types
        and sections given as values (or values as sections) are refused, naming the parameter."""
        return build_dataclass(cls, data, error=ConfigError, what="SMART-OD ")

    @classmethod
    def from_yaml(cls, path: str | Path, node_name: str = "smart_od_node") -> SmartODConfig:
        """The parameters a node named ``node_name`` gets from a ROS 2 parameter file, matched as
        rcl matches them (``/**/smart_od_node`` etc.)."""
        return cls.from_dict(read_node_parameters(path, node_name, error=ConfigError))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
