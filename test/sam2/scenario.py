"""A multi-object tracking scenario run through the engine and through SAM 2's own video predictor.

The reference follows the issue's causal rule: every object is tracked by ``SAM2VideoPredictor``
(sam2 1.1.0 keeps a separate memory per object) from its first prompt on, with the same prompts
on the same frames, one frame at a time; a correction on an already tracked frame goes in
after that frame was tracked, as SAM 2's interactive correction does. The engine receives late
prompts after newer frames arrived, so its outputs on frames between a late prompt's frame and
its arrival predate the prompt and are not compared.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from sam2auto_ros.core.propagation import Prompt
from sam2auto_ros.sam2.engine import Sam2StreamEngine

FRAME_WH = (320, 240)


def synthetic_video(n_frames: int, seed: int = 0) -> list[np.ndarray]:
    """Textured background with three textured discs moving across it (seeded: the same frames on
    every machine; no test reads footage from outside the repository)."""
    rng = np.random.default_rng(seed)
    w, h = FRAME_WH
    background = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (7, 7), 0)
    textures = [cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (3, 3), 0) for _ in range(3)]
    yy, xx = np.mgrid[0:h, 0:w]
    frames = []
    for t in range(n_frames):
        frame = background.copy()
        for k, tex in enumerate(textures):
            cx = 60 + 90 * k + 40 * np.sin(0.1 * t + k)
            cy = 120 + 50 * np.cos(0.07 * t + 2 * k)
            inside = (xx - cx) ** 2 + (yy - cy) ** 2 < (28 + 6 * k) ** 2
            frame[inside] = tex[inside]
        frames.append(frame)
    return frames


def as_jpeg_folder(frames: list[np.ndarray], folder: Path) -> list[np.ndarray]:
    """Write frames as ``<index>.jpg`` (what the video predictor reads) and return the decoded pixels."""
    folder.mkdir(parents=True, exist_ok=True)
    decoded = []
    for i, frame in enumerate(frames):
        path = folder / f"{i:05d}.jpg"
        Image.fromarray(frame).save(path, quality=95)
        decoded.append(np.asarray(Image.open(path).convert("RGB")))
    return decoded


def ellipse_mask(cx: int, cy: int, rx: int, ry: int) -> np.ndarray:
    w, h = FRAME_WH
    mask = np.zeros((h, w), dtype=np.uint8)
    cv2.ellipse(mask, (cx, cy), (rx, ry), 0, 0, 360, 1, -1)
    return mask.astype(bool)


@dataclass(frozen=True)
class Event:
    """After the engine ingests frame ``arrives``: prompt ``obj`` on frame ``frame`` (or remove it)."""

    arrives: int
    obj: int
    frame: int
    prompt: Prompt | None  # None: remove the object


def default_events() -> list[Event]:
    """Four objects: two from the start, one late mask, one mid-stream; a late re-conditioning,
    a re-conditioning on the newest frame, and a removal."""
    return [
        Event(0, 1, 0, Prompt(box=[40.0, 60.0, 110.0, 200.0])),
        Event(0, 2, 0, Prompt(points=np.array([[200.0, 110.0]]), point_labels=np.array([1]))),
        Event(3, 3, 1, Prompt(mask=ellipse_mask(250, 160, 30, 45))),
        Event(20, 4, 20, Prompt(box=[130.0, 40.0, 190.0, 150.0], points=np.array([[160.0, 100.0]]), point_labels=np.array([1]))),
        Event(33, 1, 30, Prompt(box=[50.0, 70.0, 120.0, 210.0])),
        Event(40, 2, 40, None),
        Event(45, 3, 45, Prompt(points=np.array([[250.0, 150.0], [200.0, 60.0]]), point_labels=np.array([1, 0]))),
    ]


Outputs = dict[tuple[int, int], tuple[np.ndarray, float]]


def run_engine(engine: Sam2StreamEngine, frames: list[np.ndarray], events: list[Event]) -> Outputs:
    """Per (object, frame): logits at frame resolution and object score, as the engine reported them."""
    out: Outputs = {}
    stale: set[tuple[int, int]] = set()
    for f, frame in enumerate(frames):
        for obj, pred in engine.step(frame).items():
            out[(obj, f)] = (pred.logits, pred.object_score)
        for ev in (e for e in events if e.arrives == f):
            if ev.prompt is None:
                engine.remove_object(ev.obj)
                continue
            pred = engine.add_object(ev.obj, ev.prompt, frame_index=ev.frame)
            assert pred.frame_index == f
            out[(ev.obj, f)] = (pred.logits, pred.object_score)
            stale.update((ev.obj, t) for t in range(ev.frame, f))
    for key in stale:
        out.pop(key, None)
    return out


def _add_reference_prompt(predictor: object, state: dict, frame: int, obj: int, prompt: Prompt) -> None:
    if prompt.mask is not None:
        predictor.add_new_mask(state, frame, obj, prompt.mask)
    else:
        predictor.add_new_points_or_box(state, frame, obj, points=prompt.points, labels=prompt.point_labels, box=prompt.box)


def run_reference(predictor: object, jpeg_folder: Path, n_frames: int, events: list[Event]) -> Outputs:
    """The same scenario on ``SAM2VideoPredictor`` (see the module docstring)."""
    out: Outputs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the missing sam2._C hole filler warns on every frame
        state = predictor.init_state(str(jpeg_folder))
        first_prompt: dict[int, int] = {}
        for f in range(n_frames):
            corrections = []
            for ev in (e for e in events if e.frame == f and e.prompt is not None):
                if ev.obj in first_prompt:
                    corrections.append(ev)
                else:
                    first_prompt[ev.obj] = f
                    _add_reference_prompt(predictor, state, f, ev.obj, ev.prompt)
            if not state["obj_ids"]:
                continue
            _record(predictor, state, f, out)
            for ev in corrections:
                _add_reference_prompt(predictor, state, f, ev.obj, ev.prompt)
            if corrections:
                _record(predictor, state, f, out)
            for ev in (e for e in events if e.frame == f and e.prompt is None):
                predictor.remove_object(state, ev.obj, strict=True)  # after its frame, as in the engine
    return out


def _record(predictor: object, state: dict, f: int, out: Outputs) -> None:
    for frame, obj_ids, video_res in predictor.propagate_in_video(state, start_frame_idx=f, max_frame_num_to_track=0):
        assert frame == f
        for k, obj in enumerate(obj_ids):
            idx = state["obj_id_to_idx"][obj]
            per_obj = state["output_dict_per_obj"][idx]
            stored = per_obj["cond_frame_outputs"].get(f) or per_obj["non_cond_frame_outputs"][f]
            out[(obj, f)] = (video_res[k, 0].float().numpy().copy(), float(stored["object_score_logits"].reshape(-1)[0]))


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)
