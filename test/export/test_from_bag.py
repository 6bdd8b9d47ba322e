"""Datasets from an annotated bag: the files validate and match the tracks in the bag."""

from __future__ import annotations

import contextlib
import io
import json

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from sam2auto_ros.annotate_bag import annotate_bag, record_scene_bag
from sam2auto_ros.cli import main as cli_main
from sam2auto_ros.core.instance import FrameInstances
from sam2auto_ros.eval.readers import read_ytvis
from sam2auto_ros.export import Categories, ExportError, read_mots, to_coco
from sam2auto_ros.export.from_bag import export_bag, load_tracks, select_cameras
from sam2auto_ros.io import msg_types
from sam2auto_ros.io.bags import BagWriter
from sam2auto_ros.io.images import encode_compressed, image_fields
from sam2auto_ros.io.instance_msgs import MessageClasses, frame_to_msg, ns_to_stamp
from sam2auto_ros.sim import CLASS_NAMES, make_scene


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    scene = make_scene("crossing", seed=3, n_frames=24, height=96, width=128)
    root = tmp_path_factory.mktemp("bags")
    sim = record_scene_bag(scene.frames(), root / "sim")
    out = root / "labelled"
    annotate_bag(sim, out, classes=CLASS_NAMES, progress=False, overlay=False)
    return scene, sim, out


def test_exports_validate_and_match_the_bag_tracks(labelled, tmp_path):
    scene, _, bag = labelled
    written = export_bag(bag, tmp_path, fps=10)
    tracks = load_tracks(bag)
    assert tracks.tracks_topic == "/sam2auto/annotated/tracks" and tracks.image_topic == "/sam2auto/image"
    assert tracks.categories.names == CLASS_NAMES  # the label map from the bag's metadata
    frames = tracks.frames
    # COCO: loads in pycocotools; mask AP against the simulator's ground truth is computed
    api = COCO(str(written["coco"]))
    assert len(api.getImgIds()) == 24
    truth = [f.gt for f in scene.frames()]
    gt_api = COCO()
    gt_api.dataset = to_coco(truth, Categories(CLASS_NAMES))
    with contextlib.redirect_stdout(io.StringIO()):
        gt_api.createIndex()
        results = json.loads(written["coco"].read_text())["annotations"]  # image ids are frame numbers + 1 in both
        ev = COCOeval(gt_api, gt_api.loadRes(results), "segm")
        ev.evaluate(), ev.accumulate(), ev.summarize()
    assert 0.3 < ev.stats[0] <= 1.0  # mask AP of the weight-free pipeline on this scene
    # YouTube-VIS: one annotation per track, masks equal to the bag's
    ytvis = json.loads(written["ytvis"].read_text())
    ids = {i.track_id for f in frames for i in f.instances if i.mask is not None and i.mask.area > 0}
    assert {a["track_id"] for a in ytvis["annotations"]} == ids
    for ann in ytvis["annotations"]:
        for n, seg in enumerate(ann["segmentations"]):
            inst = next((i for i in frames[n].instances if i.track_id == ann["track_id"] and i.mask is not None and i.mask.area), None)
            assert (seg is None) == (inst is None)
            if seg is not None:
                assert np.array_equal(mask_utils.decode(seg).astype(bool), inst.mask.to_array())
    # MOTS: parses back; every pixel of a track is its own or lost to a higher-scoring overlap
    for n, frame in read_mots(written["mots"], tracks.categories).items():
        for inst in frame.instances:
            orig = next(i for i in frames[n].instances if i.track_id == inst.track_id)
            assert not (inst.mask.to_array() & ~orig.mask.to_array()).any()
            assert inst.label == orig.label
    # MOT: one line per visible tracked box
    assert len(written["mot"].read_text().splitlines()) == sum(
        1 for f in frames for i in f.instances if i.mask is not None and i.mask.area > 0)
    assert len(list(written["images"].glob("video/*.jpg"))) == 24 and written["video"].stat().st_size > 0


def test_bag_without_tracks_is_refused_clearly(labelled, tmp_path):
    _, sim, bag = labelled
    with pytest.raises(ExportError, match="has no tracks topic .*annotate it first"):
        export_bag(sim, tmp_path)
    with pytest.raises(ExportError, match="is not an InstanceMaskArray topic"):
        load_tracks(bag, "/sam2auto/image")
    with pytest.raises(ExportError, match="unknown export format"):
        export_bag(bag, tmp_path, ["voc"])


# -- bags with several cameras -----------------------------------------------------------------------

FRONT, REAR = (64, 96), (80, 64)  # (height, width): the cameras differ in size, so frames cannot be mixed up


@pytest.fixture(scope="module")
def camera_frames():
    """Two simulated cameras with different sizes, rates and stamps (the weight-free pipeline confirms
    tracks on both at these lengths)."""
    front = list(make_scene("crossing", seed=3, n_frames=16, height=FRONT[0], width=FRONT[1]).frames())
    rear = list(make_scene("occlusion", seed=5, n_frames=14, height=REAR[0], width=REAR[1], fps=15.0,
                           start_ns=1_000_000_000 + 7_000_000).frames())
    return {"front": front, "rear": rear}


@pytest.fixture(scope="module")
def two_camera_labelled(camera_frames, tmp_path_factory):
    """annotate-bag --all-cameras output: /front/image and /rear/image/compressed (PNG) with their tracks
    under /sam2auto/annotated/front and /sam2auto/annotated/rear, linked by the `cameras` metadata."""
    from test.test_annotate_bag import _write_cameras_bag

    root = tmp_path_factory.mktemp("cams")
    src = _write_cameras_bag(root / "two", {f"/{name}": frames for name, frames in camera_frames.items()}, compressed=("/rear",))
    out = root / "labelled"
    annotate_bag(src, out, classes=CLASS_NAMES, all_cameras=True, progress=False, overlay=False)
    return out


def _live_bag(path, camera_frames, compressed=("rear",), truth=False, skip_image=None, corrupt_image=None, labels=CLASS_NAMES):
    """A bag as the live graph's recorder writes it with `cameras: [front, rear]` in namespace /sam2auto:
    `/sam2auto/<camera>/image` (CompressedImage on the same name for `compressed` cameras) and
    `/sam2auto/<camera>/tracks` (here the simulator's truth stands in for FLASH's tracks), stamped with
    the receive time. ``skip_image`` / ``corrupt_image``: (camera, frame index) left out / made undecodable."""
    store, classes = msg_types.typestore(), MessageClasses.rosbags()
    merged = sorted(((sim.stamp_ns, name, sim) for name, frames in camera_frames.items() for sim in frames), key=lambda x: x[:2])
    with BagWriter(path) as writer:
        writer.set_custom_data("labels", json.dumps(list(labels)))
        for stamp, name, sim in merged:
            ns, frame_id = f"/sam2auto/{name}", f"{name}_camera"
            header = classes.header(stamp=ns_to_stamp(stamp, classes.time), frame_id=frame_id)
            if (name, sim.index) != skip_image:
                if name in compressed:
                    fmt, data = encode_compressed(sim.image, "png")
                    if (name, sim.index) == corrupt_image:
                        data = np.frombuffer(b"\x89PNG but not really", np.uint8)
                    image = store.types[msg_types.COMPRESSED_IMAGE](header=header, format=fmt, data=data)
                else:
                    image = store.types[msg_types.IMAGE](header=header, **image_fields(sim.image))
                writer.write(f"{ns}/image", image, stamp + 2_000_000)
            tracks = FrameInstances(stamp, sim.gt.height, sim.gt.width, sim.gt.instances, frame_id, sim.index)
            writer.write(f"{ns}/tracks", frame_to_msg(tracks, classes), stamp + 5_000_000)
            if truth:
                writer.write(f"{ns}/ground_truth", frame_to_msg(tracks, classes), stamp + 2_000_000)
    return path


@pytest.fixture(scope="module")
def live_bag(camera_frames, tmp_path_factory):
    return _live_bag(tmp_path_factory.mktemp("live") / "live", camera_frames)


def _jpegs(folder):
    return [cv2.imread(str(p))[..., ::-1] for p in sorted(folder.glob("*.jpg"))]


def _assert_frames_of(folder, frames):
    """The JPEGs in ``folder`` are ``frames``' images, one per frame, in order (JPEG-close)."""
    images = _jpegs(folder)
    assert len(images) == len(frames)
    for image, sim in zip(images, frames):
        assert image.shape == sim.image.shape
        assert np.abs(image.astype(np.int16) - sim.image).mean() < 6


def _video_frames(path):
    capture = cv2.VideoCapture(str(path))
    size = (int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    return count, size


def _nothing_at(out):
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.name}.partial-*"))


def test_each_camera_of_an_annotated_bag_exports_with_its_own_frames(two_camera_labelled, camera_frames, tmp_path):
    bag = two_camera_labelled
    cameras = select_cameras(bag, all_cameras=True)
    assert [(c.name, c.image_topic, c.tracks_topic) for c in cameras] == [
        ("front", "/front/image", "/sam2auto/annotated/front/tracks"),
        ("rear", "/rear/image/compressed", "/sam2auto/annotated/rear/tracks"),
    ]
    for spec in ("/front/image", "/front", "front", "/front/"):
        assert load_tracks(bag, camera=spec).tracks_topic == "/sam2auto/annotated/front/tracks"
    rear = load_tracks(bag, "/sam2auto/annotated/rear/tracks")  # the tracks topic alone finds its frames through the metadata
    assert rear.image_topic == "/rear/image/compressed" and rear.camera.name == "rear"
    assert [f.stamp_ns for f in rear.frames] == [s.stamp_ns for s in camera_frames["rear"]]
    for camera, kwargs in (("rear", {"camera": "rear"}), ("front", {"tracks_topic": "/sam2auto/annotated/front/tracks"})):
        out = tmp_path / camera
        written = export_bag(bag, out, ["coco", "ytvis", "mots"], fps=10, **kwargs)
        frames = camera_frames[camera]
        _assert_frames_of(written["images"] / camera, frames)  # the video is named after the camera
        assert _video_frames(written["video"]) == (len(frames), frames[0].image.shape[:2])
        api = COCO(str(written["coco"]))
        assert [api.imgs[i]["file_name"] for i in sorted(api.imgs)] == [f"{camera}/{n:06d}.jpg" for n in range(len(frames))]
        assert {(i["height"], i["width"]) for i in api.imgs.values()} == {frames[0].image.shape[:2]}
        assert json.loads(written["ytvis"].read_text())["videos"][0]["name"] == camera


def test_all_cameras_make_one_dataset_with_a_video_per_camera(two_camera_labelled, camera_frames, tmp_path):
    bag = two_camera_labelled
    written = export_bag(bag, tmp_path / "all", all_cameras=True, fps=10)
    single = {name: export_bag(bag, tmp_path / name, ["coco"], camera=name, images=False, video=False) for name in camera_frames}
    tracks = {name: load_tracks(bag, camera=name) for name in camera_frames}
    counts = {name: len(frames) for name, frames in camera_frames.items()}
    # COCO: one file, image and annotation ids unique over both cameras, each camera's annotations as its own export's
    api = COCO(str(written["coco"]))
    data = json.loads(written["coco"].read_text())
    assert data["videos"] == [{"id": 1, "name": "front"}, {"id": 2, "name": "rear"}]
    assert len(api.imgs) == sum(counts.values()) == len(data["images"])
    assert len(api.anns) == len(data["annotations"]) and data["categories"] == Categories(CLASS_NAMES).to_coco()
    for video_id, name in enumerate(camera_frames, 1):
        own = json.loads(single[name]["coco"].read_text())
        images = [i for i in data["images"] if i["video_id"] == video_id]
        assert [(i["file_name"], i["height"], i["width"], i["stamp_ns"]) for i in images] == [
            (i["file_name"], i["height"], i["width"], i["stamp_ns"]) for i in own["images"]]
        anns = [a for a in data["annotations"] if a["video_id"] == video_id]
        assert all(api.imgs[a["image_id"]]["video_id"] == video_id for a in anns)
        strip = ("id", "image_id", "video_id")
        assert [{k: v for k, v in a.items() if k not in strip} for a in anns] == [
            {k: v for k, v in a.items() if k not in strip} for a in own["annotations"]]
        assert len(anns) > 0
    # YouTube-VIS: two videos, instance ids unique, track ids the cameras' own
    ytvis = json.loads(written["ytvis"].read_text())
    assert [(v["id"], v["name"], v["length"], v["height"], v["width"]) for v in ytvis["videos"]] == [
        (1, "front", counts["front"], *FRONT), (2, "rear", counts["rear"], *REAR)]
    ids = [a["id"] for a in ytvis["annotations"]]
    assert ids == list(range(1, len(ids) + 1))
    for video_id, name in enumerate(camera_frames, 1):
        seen = {i.track_id for f in tracks[name].frames for i in f.instances if i.mask is not None and i.mask.area > 0}
        assert {a["track_id"] for a in ytvis["annotations"] if a["video_id"] == video_id} == seen
    # ... and the evaluation harness's reader gives each camera's masks back under its video name
    back_videos = read_ytvis(written["ytvis"])
    assert list(back_videos) == ["front", "rear"]
    for name, frames in back_videos.items():
        assert len(frames) == counts[name]
        for back, orig in zip(frames, tracks[name].frames):
            want = {i.track_id: i.mask.to_array() for i in orig.instances if i.mask is not None and i.mask.area > 0}
            assert {i.track_id for i in back.instances} == set(want)
            assert all(np.array_equal(i.mask.to_array(), want[i.track_id]) for i in back.instances)
    # MOTS / MOT: a sequence file per camera; DAVIS: a folder per camera and one meta.json
    for name in camera_frames:
        back = read_mots(written["mots"] / f"{name}.txt", Categories(CLASS_NAMES))
        assert {(f.height, f.width) for f in back.values()} == {camera_frames[name][0].image.shape[:2]}
        assert (written["mot"] / f"{name}.txt").stat().st_size > 0
        assert len(list((written["davis"] / "Annotations" / name).glob("*.png"))) == counts[name]
        _assert_frames_of(written["images"] / name, camera_frames[name])
        assert _video_frames(written["video"] / f"{name}.mp4") == (counts[name], camera_frames[name][0].image.shape[:2])
    assert set(json.loads((written["davis"] / "meta.json").read_text())["videos"]) == set(camera_frames)
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["coco.json", "davis", "images", "mot", "mots", "overlay", "ytvis.json"]


def test_several_cameras_without_a_choice_are_refused_before_anything_is_written(two_camera_labelled, tmp_path):
    bag, out = two_camera_labelled, tmp_path / "ds"
    listing = (r"holds the tracks of 2 cameras: front \(tracks /sam2auto/annotated/front/tracks, frames /front/image\); "
               r"rear \(tracks /sam2auto/annotated/rear/tracks, frames /rear/image/compressed\); choose one with --camera")
    with pytest.raises(ExportError, match=listing + ".*--all-cameras"):
        export_bag(bag, out)
    with pytest.raises(ExportError, match="--camera side is not a camera with tracks in bag .*front \\(tracks"):
        export_bag(bag, out, camera="side")
    with pytest.raises(ExportError, match="not both"):
        export_bag(bag, out, camera="front", all_cameras=True)
    with pytest.raises(ExportError, match="belongs to camera rear"):
        export_bag(bag, out, camera="front", tracks_topic="/sam2auto/annotated/rear/tracks")
    with pytest.raises(ExportError, match="each video is named after its camera"):
        export_bag(bag, out, all_cameras=True, video_name="clip")
    _nothing_at(out)


def test_live_recorded_cameras_export_from_their_own_namespace(live_bag, camera_frames, tmp_path):
    cameras = select_cameras(live_bag, all_cameras=True)
    assert [(c.name, c.namespace, c.image_topic, c.tracks_topic) for c in cameras] == [
        ("front", "/sam2auto/front", "/sam2auto/front/image", "/sam2auto/front/tracks"),
        ("rear", "/sam2auto/rear", "/sam2auto/rear/image", "/sam2auto/rear/tracks"),  # CompressedImage named `image`
    ]
    for name, kwargs in (("front", {"camera": "front"}), ("rear", {"camera": "/sam2auto/rear"}),
                         ("rear", {"tracks_topic": "/sam2auto/rear/tracks"})):
        out = tmp_path / f"{name}-{len(list(tmp_path.iterdir()))}"
        written = export_bag(live_bag, out, ["coco"], video=False, **kwargs)
        _assert_frames_of(written["images"] / name, camera_frames[name])
        assert COCO(str(written["coco"])).loadCats(1)[0]["name"] == CLASS_NAMES[0]  # the recorder's label map


def test_a_live_recording_annotated_offline_exports_the_annotators_tracks(camera_frames, tmp_path):
    """Each camera then has two tracks topics (the live graph's and annotate-bag's) on one image topic: still one
    camera each, the annotator's tracks by default, the live ones by --tracks-topic with the same frames."""
    live = _live_bag(tmp_path / "live", camera_frames, truth=True)
    bag = annotate_bag(live, tmp_path / "labelled", classes=CLASS_NAMES, all_cameras=True, progress=False, overlay=False).output
    cameras = select_cameras(bag, all_cameras=True)
    assert [(c.name, c.image_topic, c.tracks_topic, c.other_tracks) for c in cameras] == [
        (name, f"/sam2auto/{name}/image", f"/sam2auto/annotated/sam2auto/{name}/tracks", (f"/sam2auto/{name}/tracks",))
        for name in ("front", "rear")]
    chosen = select_cameras(bag, tracks_topic="/sam2auto/rear/tracks")[0]
    assert (chosen.name, chosen.image_topic) == ("rear", "/sam2auto/rear/image")


def test_a_failure_mid_export_leaves_nothing(camera_frames, tmp_path):
    broken = _live_bag(tmp_path / "broken", camera_frames, corrupt_image=("rear", 5))
    out = tmp_path / "new" / "deeper" / "ds"
    for kwargs in ({"camera": "rear"}, {"all_cameras": True}):
        with pytest.raises(ExportError, match="frame at .* on /sam2auto/rear/image cannot be decoded"):
            export_bag(broken, out, **kwargs)
        assert not (tmp_path / "new").exists()  # nor the folders made for it
    # an image missing for a track frame is found before anything is written
    gap = _live_bag(tmp_path / "gap", camera_frames, skip_image=("front", 3))
    with pytest.raises(ExportError, match=r"1 of 16 track frames have no image with their stamp on /sam2auto/front/image"):
        export_bag(gap, out, all_cameras=True)
    assert not (tmp_path / "new").exists()
    assert export_bag(gap, out, camera="rear", formats=["mot"], video=False)["mot"].exists()  # the other camera is whole


def test_out_folder_must_be_new_or_empty(labelled, tmp_path):
    _, _, bag = labelled
    out = tmp_path / "ds"
    out.mkdir()
    written = export_bag(bag, out, ["coco"], images=False, video=False)  # an empty folder is filled
    assert written == {"coco": out / "coco.json"}
    before = written["coco"].read_bytes()
    with pytest.raises(ExportError, match="already exists and is not an empty folder"):
        export_bag(bag, out, ["mots"], images=False, video=False)
    assert written["coco"].read_bytes() == before and [p.name for p in out.iterdir()] == ["coco.json"]
    assert not list(tmp_path.glob(".ds.partial-*"))


def test_cli_camera_flags(two_camera_labelled, tmp_path, capsys):
    bag = str(two_camera_labelled)
    assert cli_main(["dataset", "export", bag, "--out", str(tmp_path / "none"), "--format", "coco"]) == 2
    err = capsys.readouterr().err
    assert "2 cameras: front" in err and "--camera NAME" in err and "--all-cameras" in err
    assert not (tmp_path / "none").exists()
    assert cli_main(["dataset", "export", bag, "--out", str(tmp_path / "rear"), "--camera", "rear", "--format", "coco",
                     "--no-video"]) == 0
    out = capsys.readouterr().out
    assert "camera: rear (tracks /sam2auto/annotated/rear/tracks, frames /rear/image/compressed)" in out
    assert len(list((tmp_path / "rear" / "images" / "rear").glob("*.jpg"))) == 14
    assert cli_main(["dataset", "export", bag, "--out", str(tmp_path / "all"), "--all-cameras", "--format", "ytvis",
                     "--no-images", "--no-video"]) == 0
    out = capsys.readouterr().out
    assert "camera: front" in out and "camera: rear" in out
    assert [v["name"] for v in json.loads((tmp_path / "all" / "ytvis.json").read_text())["videos"]] == ["front", "rear"]
    with pytest.raises(SystemExit):  # argparse: mutually exclusive
        cli_main(["dataset", "export", bag, "--out", str(tmp_path / "x"), "--camera", "rear", "--all-cameras"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_all_cameras_on_a_one_camera_bag_is_the_plain_export(labelled, tmp_path):
    _, _, bag = labelled
    plain = export_bag(bag, tmp_path / "plain", ["coco", "mots"], images=False, video=False)
    every = export_bag(bag, tmp_path / "every", ["coco", "mots"], all_cameras=True, images=False, video=False)
    assert [p.relative_to(tmp_path / "every") for p in every.values()] == [p.relative_to(tmp_path / "plain") for p in plain.values()]
    assert all(every[k].read_bytes() == plain[k].read_bytes() for k in plain)


def test_labels_beyond_the_bags_label_map_are_appended_not_refused(camera_frames, tmp_path):
    """Classes changed at run time leave the recorded map short: its ids stay, the rest follow."""
    seen = sorted({i.label for frames in camera_frames.values() for sim in frames for i in sim.gt.instances})
    assert len(seen) >= 2
    bag = _live_bag(tmp_path / "live", camera_frames, labels=[seen[1], "forklift"])
    export_bag(bag, tmp_path / "out", ["coco"], camera="front", images=False, video=False)
    names = [c["name"] for c in sorted(json.loads((tmp_path / "out" / "coco.json").read_text())["categories"], key=lambda c: c["id"])]
    assert names == [seen[1], "forklift", *(label for label in seen if label != seen[1])]
    with pytest.raises(ExportError, match="not in the categories"):  # a label map given by the user is kept to
        export_bag(bag, tmp_path / "strict", ["coco"], camera="front", classes=[seen[1]], images=False, video=False)
    assert not (tmp_path / "strict").exists()
