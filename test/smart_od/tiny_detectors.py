"""Tiny random-config OWLv2 / Grounding DINO models with in-memory tokenizers, and a small
ONNX model of the YOLO-World export signature. Random weights: the backends' real pre- and
post-processing run; the detections mean nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import torch

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def tiny_owlv2():
    from sam2auto_ros.smart_od.detectors.hf import random_owlv2

    return random_owlv2(
        text_config=dict(vocab_size=2 * len(LETTERS) + 3, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=16),
        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                           image_size=64, patch_size=16),
        projection_dim=32,
    )


def tiny_grounding_dino():
    from transformers import BertConfig, SwinConfig

    from sam2auto_ros.smart_od.detectors.hf import random_grounding_dino

    backbone = SwinConfig(image_size=32, patch_size=4, embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1],
                          window_size=2, out_features=["stage2", "stage3", "stage4"])
    text = BertConfig(vocab_size=12, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=37, max_position_embeddings=64)
    return random_grounding_dino(
        image_size={"shortest_edge": 64, "longest_edge": 96}, backbone_config=backbone, text_config=text, d_model=32,
        encoder_layers=1, decoder_layers=2, encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
        decoder_ffn_dim=32, num_queries=20, num_feature_levels=4, max_text_len=32, encoder_n_points=2, decoder_n_points=2,
    )


class FixedOutputDetector(torch.nn.Module):
    """The YOLO-World export signature with a known output: (1, 3, S, S) -> (1, 4 + C, N).

    ``table`` rows are (cx, cy, w, h, class scores...) in input pixels; the input only enters
    through a zero-weighted term, so the expected detections are known exactly."""

    def __init__(self, table: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("table", torch.as_tensor(table, dtype=torch.float32).T[None].contiguous())

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.table + 0.0 * images.mean()


def export_fixed_detector(path: Path, table: np.ndarray, names: list[str], size: int = 64, names_metadata: bool = True) -> Path:
    model = FixedOutputDetector(table).eval()
    torch.onnx.export(model, (torch.zeros(1, 3, size, size),), str(path), input_names=["images"],
                      output_names=["output0"], dynamo=False)
    proto = onnx.load(str(path))
    if names_metadata:
        entry = proto.metadata_props.add()
        entry.key, entry.value = "names", json.dumps(names)
    onnx.save(proto, str(path))
    return path
