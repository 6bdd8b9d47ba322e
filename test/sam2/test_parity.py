"""The streaming engine computes what SAM 2's own video predictor computes, object by object.

A seeded synthetic scene (three textured discs moving over a textured background), 64 frames, four objects prompted by box, point, mask and box+point; one arrives late (prompt for an
older frame), one is added mid-stream, one is re-conditioned late, one re-conditioned on the
newest frame, one removed. The reference is ``SAM2VideoPredictor`` (see ``scenario.py``).
Random weights, saved and loaded in the released checkpoint format.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sam2.build_sam import build_sam2_video_predictor

from sam2auto_ros.sam2.engine import Sam2StreamEngine
from sam2auto_ros.sam2.registry import checkpoint_info

from .conftest import MODEL
from .scenario import (
    as_jpeg_folder,
    default_events,
    mask_iou,
    run_engine,
    run_reference,
    synthetic_video,
)

N_FRAMES = 64


@pytest.mark.parametrize("image_size", [256, pytest.param(512, marks=[pytest.mark.heavy, pytest.mark.timeout(3600)])])
@pytest.mark.slow
def test_engine_matches_sam2_video_predictor(image_size: int, tiny_checkpoint: Path, tmp_path: Path) -> None:
    frames = synthetic_video(N_FRAMES)
    decoded = as_jpeg_folder(frames, tmp_path / "frames")
    events = default_events()

    engine = Sam2StreamEngine.from_checkpoint(MODEL, checkpoint=tiny_checkpoint, image_size=image_size)
    got = run_engine(engine, decoded, events)
    predictor = build_sam2_video_predictor(
        checkpoint_info(MODEL).config,
        ckpt_path=str(tiny_checkpoint),
        device="cpu",
        hydra_overrides_extra=[f"++model.image_size={image_size}", "++model.add_all_frames_to_correct_as_cond=true"],
    )
    want = run_reference(predictor, tmp_path / "frames", N_FRAMES, events)

    # every object is compared on every frame the engine reported after its prompt arrived
    frames_of = {obj: sorted(f for o, f in got if o == obj) for obj in (1, 2, 3, 4)}
    assert frames_of[2] == list(range(41))  # removed after frame 40
    assert frames_of[3] == list(range(3, N_FRAMES))  # prompted for frame 1, arrived at 3
    assert frames_of[4] == list(range(20, N_FRAMES))
    assert frames_of[1] == [f for f in range(N_FRAMES) if not 30 <= f < 33]  # late correction for 30 arrived at 33
    assert set(got) <= set(want)

    worst_diff, worst_iou, worst_score = 0.0, 1.0, 0.0
    for key, (logits, score) in got.items():
        ref_logits, ref_score = want[key]
        worst_diff = max(worst_diff, float(np.abs(logits - ref_logits).max()))
        worst_iou = min(worst_iou, mask_iou(logits > 0, ref_logits > 0))
        worst_score = max(worst_score, abs(score - ref_score))
    assert worst_diff <= 1e-4, f"max logit difference {worst_diff:.2e}"
    assert worst_iou >= 0.999, f"min mask IoU {worst_iou:.5f}"
    assert worst_score <= 1e-4

    # the comparison is meaningful: masks are neither empty nor full, they move, and the outputs of
    # neighbouring frames differ by far more than the tolerance above (a frame mix-up would show)
    fg = np.array([(logits > 0).mean() for logits, _ in got.values()])
    assert np.mean((fg > 0.001) & (fg < 0.999)) > 0.5, "random weights gave degenerate masks"
    for obj in (1, 3, 4):
        series = [got[(obj, f)][0] for f in frames_of[obj]]
        step_change = [float(np.abs(b - a).max()) for a, b in zip(series, series[1:])]
        assert min(step_change) > 100 * 1e-4, f"object {obj}: consecutive frames nearly equal ({min(step_change):.1e})"
        assert min(mask_iou(series[0] > 0, s > 0) for s in series) < 0.98, f"object {obj}: its mask never changes"
    assert not np.allclose(got[(1, 50)][0], got[(4, 50)][0])
