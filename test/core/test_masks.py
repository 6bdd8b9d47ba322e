"""The mask codec must be exact on every mask shape and loud on every malformed input."""

import numpy as np
import pytest

from sam2auto_ros.core.masks import MaskCodecError, RleMask, box_iou_matrix, mask_iou_matrix


def _cases():
    rng = np.random.default_rng(7)
    single = np.zeros((31, 17), bool)
    single[30, 16] = True
    first = np.zeros((5, 4), bool)
    first[0, 0] = True
    return {
        "random": rng.random((48, 64)) > 0.5,
        "sparse": rng.random((120, 90)) > 0.98,
        "empty": np.zeros((40, 30), bool),
        "full": np.ones((40, 30), bool),
        "single_last_pixel": single,
        "single_first_pixel": first,
        "one_by_one": np.ones((1, 1), bool),
        "wide": rng.random((1, 257)) > 0.3,
    }


@pytest.mark.parametrize("name", list(_cases()))
def test_roundtrip_exact(name):
    mask = _cases()[name]
    rle = RleMask.from_array(mask)
    assert rle.shape == mask.shape
    assert np.array_equal(rle.to_array(), mask)
    assert rle.area == int(mask.sum())
    counts = rle.to_counts()
    assert counts.dtype == np.uint32 and int(counts.sum()) == mask.size
    back = RleMask.from_counts(counts, *mask.shape)
    assert back == rle
    assert np.array_equal(back.to_array(), mask)
    assert RleMask.from_coco(rle.to_coco()) == rle


def test_counts_follow_the_documented_wire_format():
    # Column-major, starting with a run of zeros: decode by hand as the .msg comment says.
    mask = np.array([[0, 1, 1], [1, 1, 0]], bool)
    counts = RleMask.from_array(mask).to_counts().tolist()
    flat = np.zeros(mask.size, bool)
    pos, value = 0, False
    for c in counts:
        flat[pos : pos + c] = value
        pos += c
        value = not value
    assert np.array_equal(flat.reshape(mask.shape, order="F"), mask)
    assert counts[0] == 1  # pixel (0, 0) is 0


def test_full_mask_starts_with_zero_length_run():
    assert RleMask.from_array(np.ones((3, 3), bool)).to_counts().tolist() == [0, 9]
    assert RleMask.empty(3, 3).to_counts().tolist() == [9]


def test_box_from_mask():
    mask = np.zeros((50, 60), bool)
    mask[10:20, 5:35] = True
    assert RleMask.from_array(mask).box_xyxy().tolist() == [5, 10, 35, 20]
    assert RleMask.empty(10, 10).box_xyxy().tolist() == [0, 0, 0, 0]


def test_iou_matrix_matches_numpy():
    rng = np.random.default_rng(3)
    a = [rng.random((32, 40)) > t for t in (0.3, 0.5, 0.9)]
    b = [rng.random((32, 40)) > t for t in (0.2, 0.7)] + [np.zeros((32, 40), bool)]
    got = mask_iou_matrix([RleMask.from_array(m) for m in a], [RleMask.from_array(m) for m in b])
    for i, ma in enumerate(a):
        for j, mb in enumerate(b):
            union = (ma | mb).sum()
            want = (ma & mb).sum() / union if union else 0.0
            assert got[i, j] == pytest.approx(want)
    assert mask_iou_matrix([], [RleMask.from_array(b[0])]).shape == (0, 1)


def test_iou_of_different_sizes_is_refused():
    with pytest.raises(MaskCodecError, match="different sizes"):
        mask_iou_matrix([RleMask.empty(4, 4)], [RleMask.empty(4, 5)])


def test_box_iou():
    got = box_iou_matrix(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0]]))
    assert got.tolist() == [[pytest.approx(50 / 150), 0.0, 0.0]]


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((2, 3, 4), bool), "2-D"),
        (np.zeros((4,), bool), "2-D"),
        (np.zeros((0, 5), bool), "empty dimension"),
        (np.zeros((4, 4), np.float32), "dtype"),
        (np.full((4, 4), 2, np.uint8), "other than 0 and 1"),
        ([[0, 1]], "numpy array"),
    ],
)
def test_bad_arrays(bad, message):
    with pytest.raises(MaskCodecError, match=message):
        RleMask.from_array(bad)


@pytest.mark.parametrize(
    "counts, size, message",
    [
        ([3, 4], (3, 3), "sum to 7"),
        ([], (3, 3), "non-empty"),
        ([-1, 10], (3, 3), "negative"),
        ([9.0], (3, 3), "integers"),
        ([0], (0, 3), "positive"),
    ],
)
def test_corrupt_counts(counts, size, message):
    with pytest.raises(MaskCodecError, match=message):
        RleMask.from_counts(np.asarray(counts), *size)


def test_corrupt_coco_strings():
    with pytest.raises(MaskCodecError):
        RleMask.from_coco({"counts": "abc"})
    good = RleMask.from_array(np.eye(8, dtype=bool)).to_coco()
    with pytest.raises(MaskCodecError):
        RleMask.from_coco({"size": good["size"], "counts": good["counts"] + "zzzz"})


def _runs_from_array(mask: np.ndarray) -> np.ndarray:
    """Reference: run lengths computed from the pixels, independent of any RLE string."""
    flat = mask.ravel(order="F")
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate(([0], changes, [flat.size])))
    return np.concatenate(([0], runs)) if flat[0] else runs


def test_counts_parsed_from_the_string_equal_runs_of_the_pixels():
    rng = np.random.default_rng(11)
    masks = [rng.random(tuple(rng.integers(1, 80, 2))) > rng.random() for _ in range(150)]
    big = np.zeros((720, 1280), bool)
    big[100:700, 3:1000] = True  # long runs: multi-character and negative deltas in the string
    masks += [big, ~big]
    for mask in masks:
        assert np.array_equal(RleMask.from_array(mask).to_counts(), _runs_from_array(mask))


@pytest.mark.parametrize("counts", [b"", b"0?", b"!!", b"oooooooooooooo0"])
def test_malformed_compressed_strings_are_refused(counts):
    with pytest.raises(MaskCodecError, match="corrupt RLE"):
        RleMask(4, 4, counts).to_counts()


def _random_masks(seed: int, n: int):
    """Masks of every kind the encoder special-cases: empty, full, one column, touching the left or
    right border, heights that are and are not multiples of 8, single pixels at the corners."""
    rng = np.random.default_rng(seed)
    for k in range(n):
        h, w = (int(v) for v in rng.integers(1, 48, 2))
        kind = k % 7
        m = np.zeros((h, w), bool)
        if kind == 0:
            m = rng.random((h, w)) > rng.random()
        elif kind == 1:
            y0, x0 = rng.integers(0, h), rng.integers(0, w)
            m[y0 : rng.integers(y0, h + 1), x0 : rng.integers(x0, w + 1)] = True
        elif kind == 2:
            m[:, rng.integers(0, w)] = True
        elif kind == 3:
            m[:, 0] = m[:, -1] = True
        elif kind == 4:
            m[:] = True
        elif kind == 5:
            m[rng.choice([0, h - 1]), rng.choice([0, w - 1])] = True
        yield m


def test_from_array_equals_pycocotools_encode_on_every_layout():
    from pycocotools import mask as mask_utils

    for m in _random_masks(11, 1500):
        expected = bytes(mask_utils.encode(np.asfortranarray(m, dtype=np.uint8))["counts"])
        for layout in (m, np.asfortranarray(m), m.astype(np.uint8), np.asfortranarray(m.astype(np.int64))):
            assert RleMask.from_array(layout).counts == expected, m.shape
    wide = np.zeros((256, 256), bool, order="F")
    wide[100:140, 30:90] = True
    assert RleMask.from_array(wide).counts == bytes(mask_utils.encode(wide.view(np.uint8))["counts"])


def test_area_and_box_are_cached_and_equal_pycocotools():
    from pycocotools import mask as mask_utils

    from sam2auto_ros.core.masks import mask_stats

    masks = [RleMask.from_array(m) for m in _random_masks(12, 200)]
    areas, boxes = mask_stats(masks)
    for m, area, box in zip(masks, areas, boxes):
        x, y, w, h = mask_utils.toBbox(m._rle()).tolist()
        assert area == int(mask_utils.area(m._rle())) == m.area
        assert box.tolist() == [x, y, x + w, y + h] == m.box_xyxy().tolist()
    first = masks[0].area_and_box()
    assert masks[0].area_and_box() is first  # computed once
    copy = RleMask(masks[0].height, masks[0].width, masks[0].counts)
    assert copy == masks[0] and hash(copy) == hash(masks[0])  # the cache is no part of the value
    assert mask_stats([])[1].shape == (0, 4)


def test_window_equals_the_decoded_slice_on_small_and_large_masks():
    rng = np.random.default_rng(13)
    large = np.zeros((400, 400), bool)  # above the size where the runs are parsed instead
    large[50:300, 120:260] = rng.random((250, 140)) > 0.3
    for m in [*_random_masks(14, 300), large]:
        rle = RleMask.from_array(m)
        h, w = m.shape
        for _ in range(3):
            x0, x1 = sorted(int(v) for v in rng.integers(0, w + 1, 2))
            y0, y1 = sorted(int(v) for v in rng.integers(0, h + 1, 2))
            got = rle.window(x0, y0, x1, y1)
            assert got.dtype == bool and np.array_equal(got, m[y0:y1, x0:x1])
    with pytest.raises(MaskCodecError, match="not inside"):
        RleMask.from_array(large).window(0, 0, 401, 10)


def test_complement_minus_and_intersection_equal_the_pixel_operations():
    from sam2auto_ros.core.masks import intersection_area

    masks = list(_random_masks(15, 600))
    rng = np.random.default_rng(16)
    for a in masks:
        b = rng.random(a.shape) > rng.random()
        ra, rb = RleMask.from_array(a), RleMask.from_array(b)
        assert ra.complement() == RleMask.from_array(~a)
        assert ra.complement().complement() == ra
        assert ra.minus(rb) == RleMask.from_array(a & ~b)
        assert intersection_area(ra, rb) == int((a & b).sum())
    with pytest.raises(MaskCodecError, match="different sizes"):
        RleMask.empty(3, 4).minus(RleMask.empty(4, 3))
    with pytest.raises(MaskCodecError, match="different sizes"):
        intersection_area(RleMask.empty(3, 4), RleMask.empty(4, 3))
