"""Videos and image folders become camera bags that the annotator's decoders read back exactly."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from sam2auto_ros.cli import main
from sam2auto_ros.io import msg_types
from sam2auto_ros.io.bags import read_messages
from sam2auto_ros.io.images import decode_compressed, image_to_array
from sam2auto_ros.io.instance_msgs import stamp_to_ns
from sam2auto_ros.io.video_import import VideoImportError, video_to_bag


def _frames(n: int, h: int = 48, w: int = 64) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def _folder(tmp_path: Path, frames: list[np.ndarray], names: list[str]) -> Path:
    folder = tmp_path / "frames"
    folder.mkdir()
    for name, rgb in zip(names, frames):
        cv2.imwrite(str(folder / name), rgb[..., ::-1])
    return folder


def _read(bag: Path) -> list[tuple[str, int, np.ndarray]]:
    out = []
    for message in read_messages(bag):
        msg = message.decode()
        if message.msgtype == msg_types.COMPRESSED_IMAGE:
            rgb = decode_compressed(msg)
        else:
            pixels, encoding = image_to_array(msg)
            assert encoding == "rgb8"
            rgb = pixels
        assert stamp_to_ns(msg.header.stamp) == message.timestamp_ns
        out.append((message.topic, message.timestamp_ns, rgb))
    return out


@pytest.mark.parametrize(("encoding", "topic"), [("png", "/cam/image_raw/compressed"), ("raw", "/cam/image_raw")])
def test_folder_in_natural_order_is_exact_and_skips_unreadable_files(tmp_path, encoding, topic):
    frames = _frames(4)
    # written under names whose plain sort would be wrong: frame_10 after frame_9
    folder = _folder(tmp_path, frames, ["frame_8.png", "frame_9.png", "frame_10.png", "frame_11.png"])
    (folder / "frame_9b.png").write_bytes(b"not a png at all")
    (folder / "notes.txt").write_text("ignored: not an image suffix")
    report = video_to_bag(folder, tmp_path / "bag", fps=10.0, topic="/cam/image_raw", encoding=encoding)
    assert (report.frames, report.width, report.height, report.skipped) == (4, 64, 48, ["frame_9b.png"])
    got = _read(tmp_path / "bag")
    assert [t for t, _, _ in got] == [topic] * 4
    assert np.diff([s for _, s, _ in got]).tolist() == [100_000_000] * 3
    for (_, _, rgb), expected in zip(got, frames):
        np.testing.assert_array_equal(rgb, expected)


def test_video_file_keeps_its_rate_and_every_frame(tmp_path):
    frames = [np.full((64, 96, 3), (40 * i) % 256, np.uint8) for i in range(12)]
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (96, 64))
    assert writer.isOpened()
    for rgb in frames:
        writer.write(rgb[..., ::-1])
    writer.release()
    report = video_to_bag(path, tmp_path / "bag", encoding="jpeg")
    assert (report.frames, report.fps, report.width, report.height) == (12, 15.0, 96, 64)
    got = _read(tmp_path / "bag")
    assert round((got[-1][1] - got[0][1]) / 1e9 * 15) == 11
    for (_, _, rgb), expected in zip(got, frames):  # two lossy codecs: close, not equal
        assert np.abs(rgb.astype(int) - expected).mean() < 4


def test_mixed_sizes_stop_with_the_frame_named_and_leave_nothing(tmp_path):
    folder = _folder(tmp_path, [*_frames(2), *_frames(1, 32, 32)], ["a1.png", "a2.png", "a3.png"])
    with pytest.raises(VideoImportError, match=r"frame 2 .* is 32x32, earlier frames are 64x48"):
        video_to_bag(folder, tmp_path / "bag")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]


@pytest.mark.parametrize(("make", "kwargs", "match"), [
    (lambda p: p / "missing.mp4", {}, "does not exist"),
    (lambda p: (p / "empty").mkdir() or p / "empty", {}, "holds no images"),
    (lambda p: (p / "fake.mp4").write_text("text") and p / "fake.mp4", {}, "cannot be opened as a video"),
    (lambda p: _folder(p, _frames(1), ["x.png"]), {"fps": 0.0}, r"--fps must lie in \[0.001, 10000\], got 0.0"),
    (lambda p: _folder(p, _frames(1), ["x.png"]), {"encoding": "gif"}, "unknown encoding"),
])
def test_bad_input_is_one_clear_error(tmp_path, make, kwargs, match):
    with pytest.raises(VideoImportError, match=match):
        video_to_bag(make(tmp_path), tmp_path / "bag", **kwargs)
    assert not (tmp_path / "bag").exists()


def test_cli_imports_and_refuses_to_overwrite(tmp_path, capsys):
    folder = _folder(tmp_path, _frames(3), ["1.jpg", "2.jpg", "3.jpg"])
    assert main(["dataset", "import", str(folder), "--out", str(tmp_path / "bag"), "--quiet"]) == 0
    assert "3 frames 64x48 at 30 fps on /camera/image_raw/compressed" in capsys.readouterr().out
    assert main(["dataset", "import", str(folder), "--out", str(tmp_path / "bag"), "--quiet"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert len(_read(tmp_path / "bag")) == 3
    # the data file is named after the bag, as ros2 bag names it (it was the scratch name .bag.partial.mcap)
    assert sorted(p.name for p in (tmp_path / "bag").iterdir()) == ["bag.mcap", "metadata.yaml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bag", "frames"]


def test_footage_to_dataset_without_ground_truth(tmp_path, fixed_smart_od_config):
    """Folder of frames -> camera bag -> annotate-bag with a real (ONNX, fixed-output) SMART-OD
    detector and FLASH on the fallback -> COCO: the path real footage takes, no simulator truth."""
    from pycocotools.coco import COCO

    from sam2auto_ros.annotate_bag import annotate_bag
    from sam2auto_ros.export.from_bag import export_bag
    from sam2auto_ros.pipeline import Pipeline

    folder = _folder(tmp_path, [np.full((64, 64, 3), 90, np.uint8)] * 10, [f"{i}.png" for i in range(10)])
    video_to_bag(folder, tmp_path / "camera", encoding="png")
    pipeline = Pipeline.create(["ball", "box"], backend="fallback", smart_od_config=fixed_smart_od_config)
    report = annotate_bag(tmp_path / "camera", tmp_path / "annotated", pipeline, progress=False)
    assert report.frames == 10
    written = export_bag(tmp_path / "annotated", tmp_path / "dataset", ["coco"], images=False, video=False)
    coco = COCO(str(written["coco"]))
    assert len(coco.getImgIds()) == 10
    labels = {coco.cats[a["category_id"]]["name"] for a in coco.anns.values()}
    assert labels == {"ball", "box"}
