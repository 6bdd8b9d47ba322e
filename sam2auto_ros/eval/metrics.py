"""The harness: HOTA (DetA, AssA, LocA), CLEAR (MOTA, IDSW, ...), Identity (IDF1) and J&F from
trackeval's metric classes, COCO AP from pycocotools; one ``EvalReport`` with a row per sequence
and a combined row.

Matching follows each metric's own definition: CLEAR and Identity match at IoU >= 0.5, HOTA
averages over IoU thresholds 0.05..0.95, J&F assigns one predicted track to each ground-truth
object for the whole sequence (the DAVIS unsupervised protocol; its boundary measure F is
trackeval's port of the DAVIS code), and AP is class-aware COCO AP over all frames.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from tabulate import tabulate
from trackeval.metrics import CLEAR, HOTA, Identity, JAndF

from sam2auto_ros.core import FrameInstances
from sam2auto_ros.eval.coco_ap import average_precision
from sam2auto_ros.eval.sequences import EvalError, mask_data, trackeval_data

COMBINED = "COMBINED"
#: the columns of ``EvalReport.table`` (every row holds all of them, NaN where not computed, plus
#: CLEAR's detection "Recall" and "Precision")
COLUMNS = ("HOTA", "DetA", "AssA", "LocA", "IDF1", "IDP", "IDR", "IDSW", "MOTA", "MOTP", "FP", "FN", "Frag",
           "J", "F", "J&F", "AP", "AP50")
_INTEGER_COLUMNS = {"IDSW", "FP", "FN", "Frag"}
_QUIET = {"PRINT_CONFIG": False, "THRESHOLD": 0.5}

Pair = tuple[Sequence[FrameInstances], Sequence[FrameInstances]]


@dataclass(frozen=True)
class EvalReport:
    """Scores per sequence plus ``COMBINED`` (tracking metrics combined the trackeval way, AP pooled)."""

    rows: dict[str, dict[str, float]]
    similarity: str

    @property
    def combined(self) -> dict[str, float]:
        return self.rows[COMBINED]

    def table(self, columns: Sequence[str] = COLUMNS, tablefmt: str = "github") -> str:
        body = []
        for name, row in self.rows.items():
            cells = [name]
            for col in columns:
                value = row.get(col, float("nan"))
                if math.isnan(value):
                    cells.append("-")
                elif col in _INTEGER_COLUMNS:
                    cells.append(str(int(round(value))))
                else:
                    cells.append(f"{value:.3f}")
            body.append(cells)
        return tabulate(body, headers=["sequence", *columns], tablefmt=tablefmt, disable_numparse=True)


def _summarise(hota: dict, clear: dict, identity: dict) -> dict[str, float]:
    return {
        "HOTA": float(np.mean(hota["HOTA"])),
        "DetA": float(np.mean(hota["DetA"])),
        "AssA": float(np.mean(hota["AssA"])),
        "LocA": float(np.mean(hota["LocA"])),
        "IDF1": float(identity["IDF1"]),
        "IDP": float(identity["IDP"]),
        "IDR": float(identity["IDR"]),
        "IDSW": float(clear["IDSW"]),
        "MOTA": float(clear["MOTA"]),
        "MOTP": float(clear["MOTP"]),
        "Recall": float(clear["CLR_Re"]),
        "Precision": float(clear["CLR_Pr"]),
        "FP": float(clear["CLR_FP"]),
        "FN": float(clear["CLR_FN"]),
        "Frag": float(clear["Frag"]),
    }


def _jf(result: dict | None) -> dict[str, float]:
    if result is None:
        return {"J": float("nan"), "F": float("nan"), "J&F": float("nan")}
    return {"J": float(result["J-Mean"]), "F": float(result["F-Mean"]), "J&F": float(result["J&F"])}


def evaluate(
    sequences: Mapping[str, Pair],
    similarity: str = "mask",
    class_agnostic_ap: bool = False,
    with_jf: bool = True,
    with_ap: bool = True,
) -> EvalReport:
    """Score ``{name: (ground truth frames, predicted frames)}``.

    ``similarity="mask"`` matches by mask IoU and adds J&F and mask AP; ``"box"`` matches by box
    IoU (MOTChallenge style) and reports box AP. The sequences of one report are all one mode.
    J&F is the slowest part (it decodes every matched mask); ``with_jf=False`` skips it, and
    ``with_ap=False`` skips AP (NaN in the rows) for callers that read tracking metrics only.
    """
    if not sequences:
        raise EvalError("nothing to evaluate: no sequences given")
    if COMBINED in sequences:
        raise EvalError(f"{COMBINED!r} is reserved for the combined row; rename that sequence")
    metrics = {"hota": HOTA(), "clear": CLEAR(dict(_QUIET)), "identity": Identity(dict(_QUIET))}
    jandf = JAndF() if similarity == "mask" and with_jf else None
    raw: dict[str, dict[str, dict]] = {key: {} for key in (*metrics, "jf")}
    rows: dict[str, dict[str, float]] = {}
    iou_type = "segm" if similarity == "mask" else "bbox"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # trackeval's nan-means over empty bins
        for name, (gt, pred) in sequences.items():
            data = trackeval_data(gt, pred, similarity)
            for key, metric in metrics.items():
                raw[key][name] = metric.eval_sequence(data)
            jf = None
            if jandf is not None and data["num_gt_ids"] > 0:
                jf = raw["jf"][name] = jandf.eval_sequence(mask_data(gt, pred))
            rows[name] = {
                **_summarise(raw["hota"][name], raw["clear"][name], raw["identity"][name]),
                **_jf(jf),
                **(_ap(average_precision([(gt, pred)], iou_type, class_agnostic_ap)) if with_ap else _NO_AP),
            }
        combined = {key: metrics[key].combine_sequences(raw[key]) for key in metrics}
        jf_all = jandf.combine_sequences(raw["jf"]) if jandf is not None and raw["jf"] else None
    rows[COMBINED] = {
        **_summarise(combined["hota"], combined["clear"], combined["identity"]),
        **_jf(jf_all),
        **(_ap(average_precision(list(sequences.values()), iou_type, class_agnostic_ap)) if with_ap else _NO_AP),
    }
    return EvalReport(rows, similarity)


_NO_AP = {"AP": float("nan"), "AP50": float("nan")}


def _ap(scores: dict[str, float]) -> dict[str, float]:
    return {"AP": scores["AP"], "AP50": scores["AP50"]}
