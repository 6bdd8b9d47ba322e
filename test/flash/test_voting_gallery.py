"""Label votes and the re-identification gallery on their own."""

from __future__ import annotations

import numpy as np
import pytest

from sam2auto_ros.flash.appearance import blend, color_histogram, histogram_distance
from sam2auto_ros.flash.gallery import UNMATCHABLE, Gallery, reid_cost
from sam2auto_ros.flash.track import Track
from sam2auto_ros.flash.voting import LabelVotes


def test_votes_are_score_weighted_and_bounded():
    votes = LabelVotes(max_labels=2)
    for label, score in [("mug", 0.5), ("mug", 0.5), ("cup", 0.9), ("", 1.0), ("bowl", 0.1)]:
        votes.add(label, score)
    assert votes.label == "mug" and votes.confidence == pytest.approx(1.0 / 1.9)
    assert set(votes.as_dict()) == {"mug", "cup"}  # "bowl" was the weakest beyond the cap
    other = LabelVotes()
    other.add("cup", 0.2, class_id=4)
    votes.merge(other)
    assert votes.label == "cup" and votes.class_id == 4
    with pytest.raises(ValueError):
        LabelVotes(0)


def _track(tid, center, label="thing", desc=None, last=10):
    t = Track(tid, 0, LabelVotes())
    t.votes.add(label, 1.0)
    t.last_center, t.last_visible_frame, t.descriptor = np.array(center, float), last, desc
    return t


def test_gallery_is_bounded_in_size_and_age():
    g = Gallery(capacity=2, max_age=50)
    for tid in (1, 2, 3):
        g.add(_track(tid, (0, 0)), frame_index=tid * 10, reason="test")
    assert len(g) == 2 and 1 not in g
    assert g.expire(75) == 1 and 2 not in g and 3 in g
    assert Gallery(capacity=0, max_age=5).add(_track(1, (0, 0)), 0, "x") is None


def test_reid_cost_prefers_the_nearby_lookalike_and_gates_labels_and_appearance():
    red = np.zeros((20, 20, 3), np.uint8)
    red[..., 0] = 200
    blue = np.zeros((20, 20, 3), np.uint8)
    blue[..., 2] = 200
    full = np.ones((20, 20), bool)
    d_red, d_blue = color_histogram(red, full), color_histogram(blue, full)
    assert histogram_distance(d_red, d_red) == pytest.approx(0.0, abs=1e-6) and histogram_distance(d_red, d_blue) > 0.9
    near, far = _track(1, (50, 50), desc=d_red), _track(2, (200, 50), desc=d_red)
    other_label, other_colour = _track(3, (50, 50), "cone", d_red), _track(4, (50, 50), desc=d_blue)
    cost = reid_cost([near, far, other_label, other_colour], np.array([[40, 40, 60, 60]]), ["thing"], [d_red], 12,
                     (256, 256), appearance_weight=0.5, motion_weight=0.5, max_appearance=0.5, motion_horizon=30,
                     motion_radius=0.25)
    assert cost[0, 0] < cost[0, 1] < UNMATCHABLE
    assert cost[0, 2] == UNMATCHABLE and cost[0, 3] == UNMATCHABLE
    assert blend(None, d_red, 0.8) is d_red and np.isclose(blend(d_red, d_blue, 0.5).sum(), 1.0)
