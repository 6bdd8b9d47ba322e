"""Evaluation harness: HOTA/IDF1/CLEAR/J&F (trackeval), COCO AP (pycocotools), readers, sim runs."""

from sam2auto_ros.eval.coco_ap import average_precision
from sam2auto_ros.eval.metrics import COLUMNS, COMBINED, EvalReport, evaluate
from sam2auto_ros.eval.readers import read_davis, read_mot, read_mots, read_sequence_dirs, read_ytvis
from sam2auto_ros.eval.sequences import EvalError, trackeval_data
from sam2auto_ros.eval.sim_eval import RUNNERS, evaluate_sim, online_runner, register_runner

__all__ = [
    "COLUMNS",
    "COMBINED",
    "RUNNERS",
    "EvalError",
    "EvalReport",
    "average_precision",
    "evaluate",
    "evaluate_sim",
    "online_runner",
    "read_davis",
    "read_mot",
    "read_mots",
    "read_sequence_dirs",
    "read_ytvis",
    "register_runner",
    "trackeval_data",
]
