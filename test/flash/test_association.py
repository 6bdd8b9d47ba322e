"""Association primitives: one-to-one matching, duplicate suppression, coverage and containment."""

from __future__ import annotations

import numpy as np
import pytest

from sam2auto_ros.core.masks import RleMask
from sam2auto_ros.flash.association import covered_fraction, inside_fraction, match, suppress_duplicates, union


def _box(x0, y0, x1, y1, size=(40, 40)) -> RleMask:
    m = np.zeros(size, bool)
    m[y0:y1, x0:x1] = True
    return RleMask.from_array(m)


def test_match_is_one_to_one_and_maximises_total_similarity():
    # greedy would give row 0 column 0 (0.9) and leave row 1 with nothing above the threshold
    sim = np.array([[0.9, 0.8], [0.85, 0.1]])
    result = match(sim, 0.5)
    assert sorted(result.pairs) == [(0, 1), (1, 0)]
    assert result.unmatched_rows == () and result.unmatched_cols == ()


def test_pairs_below_threshold_never_match():
    result = match(np.array([[0.49, 0.0], [0.0, 0.7]]), 0.5)
    assert result.pairs == ((1, 1),) and result.unmatched_rows == (0,) and result.unmatched_cols == (0,)


def test_match_handles_empty_sides_and_rejects_bad_shapes():
    assert match(np.zeros((0, 3)), 0.5).unmatched_cols == (0, 1, 2)
    assert match(np.zeros((2, 0)), 0.5).unmatched_rows == (0, 1)
    with pytest.raises(ValueError, match="2-D"):
        match(np.zeros(3), 0.5)


def test_suppress_duplicates_keeps_the_strongest_of_each_object():
    a, a_shifted, b = _box(0, 0, 10, 10), _box(1, 0, 11, 10), _box(20, 20, 30, 30)
    assert suppress_duplicates([a, a_shifted, b], [0.5, 0.9, 0.7], 0.6) == [1, 2]
    assert suppress_duplicates([], [], 0.6) == []


def test_coverage_and_containment():
    tracked = union([_box(0, 0, 10, 10), _box(20, 0, 30, 10)])
    half_in = _box(5, 0, 15, 10)
    far = _box(0, 30, 10, 40)
    assert covered_fraction([half_in, far], tracked) == pytest.approx([0.5, 0.0])
    assert covered_fraction([half_in], None) == pytest.approx([0.0])
    small, big = _box(2, 2, 6, 6), _box(0, 0, 10, 10)
    frac = inside_fraction([small, big], [big])
    assert frac[:, 0] == pytest.approx([1.0, 1.0])
    assert inside_fraction([big], [small])[0, 0] == pytest.approx(16 / 100)


def test_sparse_iou_matrix_equals_the_full_one_with_and_without_touching_boxes():
    from sam2auto_ros.core.masks import mask_iou_matrix
    from sam2auto_ros.core.masks import mask_stats
    from sam2auto_ros.flash.association import sparse_iou_matrix

    def rect(x0, y0, x1, y1):
        m = np.zeros((40, 60), bool)
        m[y0:y1, x0:x1] = True
        return RleMask.from_array(m)

    apart = [rect(0, 0, 10, 10), rect(20, 20, 30, 30), rect(40, 0, 60, 10)]
    touching = [*apart, rect(5, 5, 25, 25)]
    for masks in (apart, touching):
        np.testing.assert_allclose(sparse_iou_matrix(masks), mask_iou_matrix(masks, masks))
    areas, boxes = mask_stats(apart)
    assert areas.tolist() == [100, 100, 200]
    assert boxes.tolist() == [[0, 0, 10, 10], [20, 20, 30, 30], [40, 0, 60, 10]]


def _random_rle_masks(seed: int, n: int, size=(40, 50)) -> list[RleMask]:
    """Rectangles and blobs that often touch, share an edge or coincide, plus empty masks."""
    rng = np.random.default_rng(seed)
    out = []
    prev = (0, 0, 1, 1)  # replaced at k = 0, before its first use at k = 1
    for k in range(n):
        m = np.zeros(size, bool)
        if k % 5 == 1:  # shares an edge with the previous rectangle: boxes touch, no common pixel
            x0, y0, x1, y1 = prev
            m[y0:y1, x1 : min(x1 + 5, size[1])] = True
        elif k % 5 == 2:
            m = rng.random(size) > 0.97
        elif k % 5 != 3:  # k % 5 == 3: empty
            x0, y0 = (int(v) for v in rng.integers(0, 35, 2))
            prev = (x0, y0, x0 + int(rng.integers(1, 15)), y0 + int(rng.integers(1, 15)))
            m[prev[1] : prev[3], prev[0] : prev[2]] = True
        out.append(RleMask.from_array(m))
    out.append(out[0])  # the same mask twice
    return out


def test_box_prefiltered_ious_equal_the_full_mask_iou():
    from sam2auto_ros.core.masks import box_iou_matrix, mask_iou_matrix, mask_stats
    from sam2auto_ros.flash.association import overlapping_pairs, sparse_iou, sparse_iou_matrix

    for seed in range(20):
        a, b = _random_rle_masks(seed, 9), _random_rle_masks(100 + seed, 7)
        np.testing.assert_array_equal(sparse_iou(a, b), mask_iou_matrix(a, b))
        full = mask_iou_matrix(a, a)
        got = sparse_iou_matrix(a)
        off = ~np.eye(len(a), dtype=bool)
        np.testing.assert_array_equal(got[off], full[off])
        assert np.all(np.diag(got) == 1.0)
        touching = box_iou_matrix(mask_stats(a)[1], mask_stats(b)[1]) > 0
        assert overlapping_pairs(a, b) == [tuple(p) for p in np.argwhere(touching).tolist()]
        upper = np.triu(box_iou_matrix(mask_stats(a)[1], mask_stats(a)[1]) > 0, 1)
        assert overlapping_pairs(a, a, upper=True) == [tuple(p) for p in np.argwhere(upper).tolist()]
    assert sparse_iou([], a).shape == (0, len(a)) and sparse_iou_matrix([]).shape == (0, 0)


def test_match_without_competing_pairs_equals_the_assignment_solver():
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(5)
    for _ in range(300):
        sim = np.where(rng.random((5, 4)) < 0.3, rng.random((5, 4)), 0.0)
        got = match(sim, 0.2)
        valid = sim >= 0.2
        expected = []
        if valid.any():
            rows, cols = linear_sum_assignment(np.where(valid, -sim, 1e6))
            expected = [(int(r), int(c)) for r, c in zip(rows, cols) if valid[r, c]]
        assert list(got.pairs) == expected
