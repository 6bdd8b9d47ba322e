"""Reading MOT / MOTS directories: what the exporters write scores perfect against itself."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sam2auto_ros.eval import EvalError, evaluate, read_mot, read_sequence_dirs
from sam2auto_ros.export.common import Categories
from sam2auto_ros.export.mots import write_mot, write_mots
from sam2auto_ros.sim import make_scene


@pytest.fixture(scope="module")
def truth():
    return [f.gt for f in make_scene("crossing", seed=1, n_frames=20).frames()]


def test_mots_directories_round_trip(truth, tmp_path):
    categories = Categories.from_frames(truth)
    write_mots(tmp_path / "gt" / "crossing.txt", truth, categories)
    write_mots(tmp_path / "pred" / "crossing.txt", truth, categories)
    pairs, similarity = read_sequence_dirs(tmp_path / "gt", tmp_path / "pred")
    assert similarity == "mask" and list(pairs) == ["crossing"]
    gt, pred = pairs["crossing"]
    assert len(gt) == len(truth)
    assert [sorted(i.track_id for i in f.instances) for f in gt] == [sorted(i.track_id for i in f.instances) for f in truth]
    row = evaluate(pairs, similarity).combined
    assert row["HOTA"] == pytest.approx(1.0) and row["J&F"] == pytest.approx(1.0) and row["AP"] == pytest.approx(1.0)


def test_mot_challenge_layout_with_seqinfo(truth, tmp_path):
    seq = tmp_path / "gt" / "walk"
    write_mot(seq / "gt" / "gt.txt", truth)
    (seq / "seqinfo.ini").write_text("[Sequence]\nname=walk\nseqLength=25\nimWidth=256\nimHeight=256\n")
    swapped = [replace(f, instances=tuple(i.with_track(5 - i.track_id) for i in f.instances)) if n >= 10 else f
               for n, f in enumerate(truth)]
    write_mot(tmp_path / "pred" / "walk.txt", swapped)
    pairs, similarity = read_sequence_dirs(tmp_path / "gt", tmp_path / "pred")
    assert similarity == "box"
    gt, pred = pairs["walk"]
    assert len(gt) == len(pred) == 25  # seqinfo's length, beyond the last annotated frame
    assert (gt[0].height, gt[0].width) == (256, 256)
    row = evaluate(pairs, similarity).combined
    assert row["MOTA"] < 1.0 and row["IDSW"] == 4 and row["FN"] == row["FP"] == 0


def test_min_confidence_drops_ignored_ground_truth_rows(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text("1,1,10,10,5,5,1,-1,-1,-1\n1,2,30,30,5,5,0,-1,-1,-1\n2,1,11,10,5,5,1,-1,-1,-1\n")
    assert [len(f) for f in read_mot(path).values()] == [2, 1]
    assert [len(f) for f in read_mot(path, min_confidence=1).values()] == [1, 1]
    box = read_mot(path)[0].instances[0].box.tolist()
    assert box == [10, 10, 15, 15]


def test_errors_name_the_problem(truth, tmp_path):
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    with pytest.raises(EvalError, match="no sequences"):
        read_sequence_dirs(tmp_path / "gt", tmp_path / "pred")
    write_mot(tmp_path / "gt" / "a.txt", truth)
    with pytest.raises(EvalError, match="no predictions for a"):
        read_sequence_dirs(tmp_path / "gt", tmp_path / "pred")
    with pytest.raises(EvalError, match="not a directory"):
        read_sequence_dirs(tmp_path / "missing", tmp_path / "pred")
    (tmp_path / "pred" / "a.txt").write_text("1,1,10,10\n")
    with pytest.raises(EvalError, match="MOTChallenge"):
        pairs, _ = read_sequence_dirs(tmp_path / "gt", tmp_path / "pred")
    (tmp_path / "pred" / "a.txt").write_text("1 1 1 10 10 not-an-rle\n")
    with pytest.raises(EvalError, match="MOTS"):
        read_sequence_dirs(tmp_path / "gt", tmp_path / "pred", fmt="mots")


def test_youtube_vis_json_round_trip(truth, tmp_path):
    from sam2auto_ros.export.ytvis import to_ytvis, write_ytvis

    categories = Categories.from_frames(truth)
    write_ytvis(tmp_path / "gt" / "set.json", truth, categories, video_name="clip")
    # predictions as the official results list: one entry per track, no category table
    dropped = [replace(f, instances=f.instances[1:]) if n % 3 == 0 else f for n, f in enumerate(truth)]
    results = [{k: a[k] for k in ("video_id", "category_id", "segmentations", "score", "track_id")}
               for a in to_ytvis(dropped, categories)["annotations"]]
    (tmp_path / "pred").mkdir()
    (tmp_path / "pred" / "set.json").write_text(__import__("json").dumps(results))
    pairs, similarity = read_sequence_dirs(tmp_path / "gt", tmp_path / "pred")
    assert similarity == "mask" and list(pairs) == ["set/clip"]
    gt, pred = pairs["set/clip"]
    assert len(gt) == len(pred) == len(truth)
    assert [i.label for i in gt[0].instances] == [i.label for i in truth[0].instances]
    row = evaluate(pairs, similarity).combined
    missing = sum(1 for n, f in enumerate(truth) if n % 3 == 0 and len(f))
    assert row["FN"] == missing and row["FP"] == 0 and row["IDSW"] == 0
    assert pred[1].instances[0].label == truth[1].instances[0].label  # labels resolved through the gt table


def test_davis_png_folders(tmp_path):
    from PIL import Image

    frames = list(make_scene("crossing", seed=1, n_frames=12).frames())
    palette = [v for i in range(256) for v in (i * 37 % 256, i * 91 % 256, i * 53 % 256)]
    for root, shift in (("gt", 0), ("pred", 10)):
        folder = tmp_path / root / "crossing"
        folder.mkdir(parents=True)
        for frame in frames:
            ids = np.where(frame.id_map > 0, frame.id_map + shift, 0).astype(np.uint8)
            ids[:2, :2] = 255  # void pixels are ignored
            image = Image.fromarray(ids)  # grey; the palette below makes it an indexed PNG
            image.putpalette(palette)
            image.save(folder / f"{frame.index:05d}.png")
    pairs, similarity = read_sequence_dirs(tmp_path / "gt", tmp_path / "pred")
    assert similarity == "mask" and list(pairs) == ["crossing"]
    gt, _ = pairs["crossing"]
    assert [sorted(i.track_id for i in f.instances) for f in gt] == [sorted(i.track_id for i in f.gt.instances) for f in frames]
    row = evaluate(pairs, similarity).combined
    assert row["HOTA"] == pytest.approx(1.0) and row["J&F"] == pytest.approx(1.0)  # ids differ, identities do not
