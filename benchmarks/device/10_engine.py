"""The streaming engine against SAM 2's own SAM2VideoPredictor on the device, and its speed.

* parity: the same frames and box prompts through both, fp32; the largest logit difference and
  the smallest mask IoU over every object and frame;
* ms/frame of ``engine.step`` at 1024 px (dry run: 256) with 1, 4 and 16 objects, fp32 and bf16
  (``torch.autocast``, as SAM 2's own demo runs), median over the measured frames, wall clock
  after a device synchronise; and bf16's smallest mask IoU against fp32.

Random SAM 2.1 tiny weights saved in the released checkpoint format.
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from bench_engine import MODEL, boxes, video_frame
from PIL import Image
from section import device, dry, random_checkpoint, row, synchronize

from sam2auto_ros.core.propagation import Prompt
from sam2auto_ros.sam2.engine import Sam2StreamEngine
from sam2auto_ros.sam2.registry import checkpoint_info

SIZE = 256 if dry() else 1024
COUNTS = (1, 2) if dry() else (1, 4, 16)
WARM, MEASURED = (1, 2) if dry() else (3, 10)
PARITY_FRAMES = 3 if dry() else 8
WH = (320, 240) if dry() else (1280, 720)


def autocast(precision: str):
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device(), dtype=torch.bfloat16)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def parity(ckpt: Path) -> None:
    from sam2.build_sam import build_sam2_video_predictor

    engine = Sam2StreamEngine.from_checkpoint(MODEL, checkpoint=ckpt, image_size=SIZE, device=device())
    predictor = build_sam2_video_predictor(checkpoint_info(MODEL).config, ckpt_path=str(ckpt), device=device(),
                                           hydra_overrides_extra=[f"++model.image_size={SIZE}"])
    worst_diff, worst_iou, compared = 0.0, 1.0, 0
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # the missing sam2._C hole filler warns on every frame
        frames = []
        for t in range(PARITY_FRAMES):
            path = Path(folder) / f"{t:05d}.jpg"
            Image.fromarray(video_frame(t, WH)).save(path, quality=95)
            frames.append(np.asarray(Image.open(path).convert("RGB")))
        state = predictor.init_state(folder)
        engine.step(frames[0])
        for i, box in enumerate(boxes(2, WH)):
            predictor.add_new_points_or_box(state, 0, i, box=box)
            engine.add_object(i, Prompt(box=box))
        reference = predictor.propagate_in_video(state)
        next(reference)  # the prompted frame
        for t in range(1, PARITY_FRAMES):
            got = engine.step(frames[t])
            frame_idx, obj_ids, logits = next(reference)
            assert frame_idx == t
            for k, obj in enumerate(obj_ids):
                want = logits[k, 0].float().cpu().numpy()
                worst_diff = max(worst_diff, float(np.abs(got[obj].logits - want).max()))
                worst_iou = min(worst_iou, iou(got[obj].mask, want > 0))
                compared += 1
    row("engine vs SAM2VideoPredictor", f"{SIZE} px, 2 objects, {PARITY_FRAMES - 1} frames, fp32",
        f"max logit diff {worst_diff:.1e}, min mask IoU {worst_iou:.4f}", f"{compared} masks compared; CPU parity bar: 1e-4 / 0.999")


def speed(ckpt: Path) -> None:
    masks: dict[tuple[int, str], list[np.ndarray]] = {}
    for n in COUNTS:
        for precision in ("fp32", "bf16"):
            engine = Sam2StreamEngine.from_checkpoint(MODEL, checkpoint=ckpt, image_size=SIZE, device=device())
            times, kept = [], []
            with torch.inference_mode(), autocast(precision):
                engine.step(video_frame(0, WH))
                for i, box in enumerate(boxes(n, WH)):
                    engine.add_object(i, Prompt(box=box))
                for t in range(1, WARM + MEASURED + 1):
                    frame = video_frame(t, WH)
                    synchronize()
                    start = time.perf_counter()
                    predictions = engine.step(frame)
                    synchronize()
                    if t > WARM:
                        times.append(time.perf_counter() - start)
                        kept.append(predictions[0].mask)
            masks[(n, precision)] = kept
            note = ""
            if precision == "bf16":
                note = f"min mask IoU vs fp32 {min(iou(a, b) for a, b in zip(masks[(n, 'fp32')], kept)):.3f}"
            row("engine ms/frame", f"{SIZE} px, {n} objects, {precision}", f"{1000 * statistics.median(times):.1f}", note)


def main() -> None:
    torch.manual_seed(0)
    ckpt = random_checkpoint(SIZE)
    parity(ckpt)
    speed(ckpt)


if __name__ == "__main__":
    main()
