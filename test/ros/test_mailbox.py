"""The latest-frame mailbox: newest wins per camera, drops are counted, the longest-waiting camera
goes first, the worker wakes on close."""

import threading
import time

from sam2auto_ros.ros.mailbox import LatestMailbox


def test_newer_item_replaces_unread_one_and_is_counted():
    box: LatestMailbox[int] = LatestMailbox()
    assert box.put("", 1) is False
    assert box.put("", 2) is True and box.put("", 3) is True
    assert box.depth == 1
    assert box.get(timeout=0) == ("", 3)
    assert box.depth == 0 and box.get(timeout=0.01) is None
    assert (box.received, box.dropped) == (3, 2)


def test_each_camera_keeps_its_own_slot_and_the_longest_waiting_goes_first():
    box: LatestMailbox[int] = LatestMailbox()
    box.put("front", 1)
    box.put("rear", 10)
    box.put("front", 2)  # replaces front's unread frame but keeps front's place: it has waited longest
    box.put("rear", 11)
    box.put("side", 20)
    assert box.depth == 3
    assert [box.get(timeout=0) for _ in range(3)] == [("front", 2), ("rear", 11), ("side", 20)]
    assert box.received_by == {"front": 2, "rear": 2, "side": 1}
    assert dict(box.dropped_by) == {"front": 1, "rear": 1, "side": 0} and box.dropped == 2


def test_a_fast_camera_does_not_starve_a_slow_one():
    box: LatestMailbox[int] = LatestMailbox()
    taken = []
    for i in range(100):
        box.put("fast", i)
        if i % 10 == 0:
            box.put("slow", i)
        if i % 2 == 1:  # the worker takes one item per two fast frames
            taken.append(box.get(timeout=0)[0])
    assert taken.count("slow") == 10  # every slow frame was processed
    assert box.dropped_by["slow"] == 0


def test_slow_consumer_sees_latest_frames_and_memory_stays_one_deep():
    box: LatestMailbox[int] = LatestMailbox()
    seen: list[int] = []

    def consume() -> None:
        while (got := box.get(timeout=1.0)) is not None:
            seen.append(got[1])
            time.sleep(0.01)  # slower than the producer

    worker = threading.Thread(target=consume)
    worker.start()
    for i in range(200):
        box.put("", i)
        assert box.depth <= 1
        time.sleep(0.001)
    time.sleep(0.05)
    box.close()
    worker.join(5)
    assert seen == sorted(seen) and seen[-1] == 199  # in order, and the newest always gets through
    assert box.dropped == 200 - len(seen) > 0


def test_close_wakes_a_waiting_worker_and_reopen_empties():
    box: LatestMailbox[int] = LatestMailbox()
    result = []
    worker = threading.Thread(target=lambda: result.append(box.get(timeout=10)))
    worker.start()
    time.sleep(0.05)
    box.close()
    worker.join(2)
    assert not worker.is_alive() and result == [None]
    box.put("", 5)
    box.reopen()
    assert box.get(timeout=0) is None
