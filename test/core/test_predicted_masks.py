"""Masks made full-resolution in a window equal the whole-frame reference, and pycocotools' encoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sam2auto_ros.core.masks import RleMask, mask_stats
from sam2auto_ros.core.predicted_masks import (
    BoxedMask,
    LowResLogits,
    full_resolution,
    run_edges,
    upsample_window,
    window_rle,
)

LAYOUTS = ("scattered", "full-height columns", "ends on ones", "starts on ones", "empty", "one pixel")


def _reference(mask: np.ndarray) -> RleMask:
    """pycocotools' encoding of a whole-frame array, with area and box from pycocotools too."""
    ref = RleMask(*mask.shape, RleMask.from_array(mask).counts)
    mask_stats([ref])
    return ref


def _same(got: RleMask, want: RleMask) -> None:
    assert got.counts == want.counts
    assert np.array_equal(got.to_counts(), want.to_counts())
    assert got.area_and_box() == want.area_and_box()


def _random_logits(rng: np.random.Generator, h: int, w: int) -> torch.Tensor:
    blobs = rng.standard_normal((h, w)).astype(np.float32) * 3.0 - rng.uniform(0.0, 4.0)
    return torch.from_numpy(blobs)


def test_upsampling_is_sam2s_and_a_window_is_the_frames_crop_bit_for_bit():
    rng = np.random.default_rng(0)
    flipped = checked = 0
    for (h, w), (height, width) in [((64, 64), (180, 320)), ((17, 9), (61, 200)), ((256, 256), (97, 128)), ((8, 8), (8, 8))]:
        low = _random_logits(rng, h, w)
        torch_ref = F.interpolate(low[None, None], size=(height, width), mode="bilinear", align_corners=False)[0, 0]
        frame = upsample_window(low, (height, width), (0, 0, width, height))
        # torch's weights; only its fused last multiply-add rounds differently
        assert torch.allclose(frame, torch_ref, atol=1e-5, rtol=0)
        differ = (frame > 0) != (torch_ref > 0)  # a pixel's side only differs where its logit is ~0
        assert torch.all(torch_ref[differ].abs() < 1e-5)
        flipped += int(differ.sum())
        for _ in range(20):
            x0, x1 = sorted(int(v) for v in rng.integers(0, width + 1, 2))
            y0, y1 = sorted(int(v) for v in rng.integers(0, height + 1, 2))
            assert torch.equal(upsample_window(low, (height, width), (x0, y0, x1, y1)), frame[y0:y1, x0:x1])
            checked += 1
    assert checked == 80 and flipped < 5


def test_low_res_logits_encode_as_their_whole_frame_would():
    rng = np.random.default_rng(1)
    nonempty = 0
    for trial in range(60):
        h, w = (int(v) for v in rng.integers(4, 40, 2))
        height, width = (int(v) for v in rng.integers(4, 160, 2))
        low = _random_logits(rng, h, w)
        if trial % 10 == 0:
            low = -low.abs() - 1.0  # nothing positive: an empty mask
        predicted = LowResLogits(low, (height, width))
        whole = upsample_window(low, (height, width), (0, 0, width, height)).numpy()
        _same(predicted.rle(), _reference(whole > 0))
        assert np.array_equal(predicted.to_array(), whole > 0)
        assert np.array_equal(predicted.to_logits(), whole)
        box = predicted.bounds()
        if box is None:  # the window may only be empty when the mask is
            assert not (whole > 0).any()
        else:
            x0, y0, x1, y1 = box
            outside = whole > 0
            outside[y0:y1, x0:x1] = False
            assert not outside.any()
            nonempty += 1
    assert nonempty > 40


@pytest.mark.parametrize("layout", LAYOUTS)
def test_boxed_masks_encode_as_pycocotools_does(layout):
    rng = np.random.default_rng(LAYOUTS.index(layout))
    for _ in range(30):
        height, width = (int(v) for v in rng.integers(3, 40, 2))
        mask = rng.random((height, width)) < 0.4
        if layout == "full-height columns":  # runs go on from the bottom of one column to the top of the next
            mask[:, 1 : max(2, width // 2)] = True
        elif layout == "ends on ones":
            mask[-3:, -1] = True
        elif layout == "starts on ones":
            mask[0, 0] = True
        elif layout == "empty":
            mask[:] = False
        elif layout == "one pixel":
            mask[:] = False
            mask[rng.integers(height), rng.integers(width)] = True
        _same(BoxedMask.from_array(mask).rle(), _reference(mask))
        assert np.array_equal(BoxedMask.from_array(mask).to_array(), mask)


def test_run_edges_on_the_device_path_equal_the_host_path():
    """The torch path a CUDA tensor takes, run on the CPU, finds the same edges as the numpy path."""
    rng = np.random.default_rng(2)
    for _ in range(40):
        pixels = torch.from_numpy(rng.random(tuple(int(v) for v in rng.integers(1, 30, 2))) < 0.5)
        assert np.array_equal(run_edges(pixels, on_device=True), run_edges(pixels, on_device=False))
    window = torch.from_numpy(rng.random((12, 7)) < 0.5)
    assert window_rle(window, 3, 5, 20, 30).counts == RleMask.from_array(np.pad(window.numpy(), ((5, 3), (3, 20)))).counts


def test_full_resolution_finds_the_windows_of_many_masks_together():
    rng = np.random.default_rng(3)
    lows = [_random_logits(rng, 32, 32) for _ in range(5)] + [torch.full((32, 32), -5.0)]
    together = [LowResLogits(low, (90, 160)) for low in lows]
    alone = [LowResLogits(low, (90, 160)) for low in lows]
    mixed = [*together[:3], BoxedMask.from_array(rng.random((90, 160)) < 0.1), *together[3:]]
    encoded = full_resolution(mixed)
    assert [m.bounds() for m in together] == [m.bounds() for m in alone]
    for got, want in zip([encoded[i] for i in (0, 1, 2, 4, 5, 6)], alone):
        _same(got, want.rle())
    assert encoded[-1].area == 0
    assert encoded[0] is together[0].rle()  # computed once, kept


def test_windows_outside_the_frame_are_refused():
    predicted = BoxedMask(np.ones((2, 3), bool), 4, 5, (10, 10))
    assert predicted.window(3, 4, 8, 8).sum() == 6
    with pytest.raises(ValueError, match="not inside"):
        predicted.window(0, 0, 11, 10)
    with pytest.raises(ValueError, match="does not fit"):
        BoxedMask(np.ones((2, 3), bool), 8, 5, (10, 10))
    with pytest.raises(ValueError, match="2-D"):
        LowResLogits(torch.zeros(1, 4, 4), (8, 8))
