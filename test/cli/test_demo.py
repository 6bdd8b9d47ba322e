"""The README's first command: the demo must run end to end and leave every output it lists."""

import json
import re

from pycocotools.coco import COCO

from sam2auto_ros.cli import main


def test_demo_writes_bags_datasets_and_scores(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--frames", "24", "--scene", "crossing", "--quiet"]) == 0
    printed = capsys.readouterr().out
    (run_dir,) = tmp_path.iterdir()
    for rel in ("recorded/metadata.yaml", "annotated/metadata.yaml", "dataset/coco.json", "dataset/ytvis.json",
                "dataset/mots.txt", "dataset/mot.txt", "dataset/overlay.mp4"):
        assert (run_dir / rel).is_file(), rel
        assert str(run_dir / rel.split("/")[0]) in printed
    coco = COCO(str(run_dir / "dataset" / "coco.json"))
    assert len(coco.getImgIds()) == 24 and coco.getAnnIds()
    assert json.loads((run_dir / "dataset" / "ytvis.json").read_text())["videos"][0]["length"] == 24
    row = re.search(r"^\| crossing +\|(.*)$", printed, re.MULTILINE)
    assert row, printed
    hota, idf1 = float(row.group(1).split("|")[0]), float(row.group(1).split("|")[3])
    assert 0.0 < hota <= 1.0 and 0.0 < idf1 <= 1.0
