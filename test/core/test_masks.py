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
