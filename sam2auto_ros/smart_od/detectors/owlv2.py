"""OWLv2 split where its text and image paths meet: a text tower and an image tower with heads.

``Owlv2ForObjectDetection`` embeds the class names and the image in one call. Cut in two, the
class-name embeddings become an input of the image side, so they are computed once per name
(:class:`TextEmbeddingCache`) instead of once per frame, and each half exports to ONNX on its own
(:mod:`sam2auto_ros.onnx.detector_export`). The two torch modules here are what both backends
run: :class:`TorchOwlv2Towers` calls them directly, the ONNX graphs are traced from them.

- text tower: ``input_ids (Q, L)`` -> ``text_embeds (Q, D)``, L2-normalised, as the full model
  computes them. No attention mask: the text transformer is causal and pools at the end token,
  which comes before the padding, so padding never reaches the pooled token;
- image tower: ``pixel_values (1, 3, S, S)``, ``query_embeds (1, K, D)`` -> ``logits (1, N, K)``
  and ``pred_boxes (1, N, 4)`` (centre x, y, width, height relative to the padded square). K is
  the number of query slots; unused slots are zero vectors and their columns are ignored.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch
from scipy.special import expit

from sam2auto_ros.smart_od.detectors.base import DetectorBackend, DetectorError, RawDetections
from sam2auto_ros.smart_od.detectors.text_cache import TextCacheStats, TextEmbeddingCache


class Owlv2TextTower(torch.nn.Module):
    input_names = ("input_ids",)
    output_names = ("text_embeds",)

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        owl = self.model.owlv2
        pooled = owl.text_model(input_ids=input_ids).pooler_output
        embeds = owl.text_projection(pooled)
        return embeds / torch.linalg.norm(embeds, ord=2, dim=-1, keepdim=True)


class Owlv2ImageTower(torch.nn.Module):
    input_names = ("pixel_values", "query_embeds")
    output_names = ("logits", "pred_boxes")

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor, query_embeds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feature_map, _ = self.model.image_embedder(pixel_values=pixel_values)
        batch, height, width, dim = feature_map.shape
        features = feature_map.reshape(batch, height * width, dim)
        logits, _ = self.model.class_predictor(features, query_embeds, None)
        return logits, self.model.box_predictor(features, feature_map)


class Owlv2Towers(Protocol):
    """The two halves of OWLv2 on some runtime (torch or onnxruntime), numpy in and out."""

    text_length: int  # tokens per class name the text tower takes
    max_queries: int | None  # class names one image call accepts (None: any number)

    def embed_text(self, input_ids: np.ndarray) -> np.ndarray:
        """``(Q, L)`` int64 token ids -> ``(Q, D)`` float32 normalised embeddings."""

    def detect(self, pixel_values: np.ndarray, query_embeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(1, 3, S, S)`` float32, ``(1, K, D)`` float32 -> ``logits (1, N, K)``, ``pred_boxes (1, N, 4)``."""


class TorchOwlv2Towers:
    """The towers run by torch, on ``device``."""

    max_queries: int | None = None

    def __init__(self, model: Any, device: str = "cpu") -> None:
        self.model = model.to(device).eval()
        self.device = device
        self.text_length = int(model.config.text_config.max_position_embeddings)
        self.text_tower = Owlv2TextTower(self.model).eval()
        self.image_tower = Owlv2ImageTower(self.model).eval()

    @torch.no_grad()
    def embed_text(self, input_ids: np.ndarray) -> np.ndarray:
        embeds = self.text_tower(torch.from_numpy(input_ids).to(self.device))
        return embeds.float().cpu().numpy()

    @torch.no_grad()
    def detect(self, pixel_values: np.ndarray, query_embeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dtype = next(self.model.parameters()).dtype
        logits, boxes = self.image_tower(
            torch.from_numpy(pixel_values).to(self.device, dtype), torch.from_numpy(query_embeds).to(self.device, dtype)
        )
        return logits.float().cpu().numpy(), boxes.float().cpu().numpy()


def boxes_from_outputs(logits: np.ndarray, pred_boxes: np.ndarray, side: int) -> RawDetections:
    """transformers' OWLv2 post-processing: the best class per box, sigmoid score, corners in
    pixels of the ``side`` x ``side`` square the image was padded to (bottom/right)."""
    best = logits.argmax(axis=-1)
    scores = expit(logits.max(axis=-1).astype(np.float64))
    cx, cy, w, h = np.moveaxis(pred_boxes.astype(np.float64), -1, 0)
    corners = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1) * side
    return RawDetections(corners, scores, best)


class Owlv2Detector(DetectorBackend):
    """OWLv2 on any :class:`Owlv2Towers`: one query per class name, each name embedded once.

    ``processor`` is the model's ``Owlv2Processor`` (its tokenizer and its image processor, the
    PIL one: the default needs torchvision, which CPU installs lack). A class name longer than the
    text tower's ``text_length`` tokens, or more names than the towers' ``max_queries``, is an
    error naming it: nothing is truncated.
    """

    def __init__(self, towers: Owlv2Towers, processor: Any, text_cache_size: int = 1024, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.towers, self.processor = towers, processor
        self.text_cache = TextEmbeddingCache(text_cache_size)

    def _encode(self, names: list[str]) -> np.ndarray:
        length = self.towers.text_length
        tokenizer = self.processor.tokenizer
        for name in names:
            count = len(tokenizer(name)["input_ids"])
            if count > length:
                raise DetectorError(
                    f"class name {name!r} is {count} tokens long; this OWLv2 text tower takes at most {length} "
                    "(start and end tokens included): use a shorter name"
                )
        ids = tokenizer(names, padding="max_length", max_length=length, return_tensors="np")["input_ids"]
        return self.towers.embed_text(ids.astype(np.int64))

    def text_embeddings(self, class_names: list[str]) -> np.ndarray:
        """``(len(class_names), D)``: cached per name, new names embedded in one tower call."""
        return self.text_cache.embeddings(class_names, self._encode)

    def cache_stats(self) -> TextCacheStats:
        return self.text_cache.stats()

    def _predict(self, image: np.ndarray, class_names: list[str]) -> RawDetections:
        limit = self.towers.max_queries
        if limit is not None and len(class_names) > limit:
            raise DetectorError(
                f"{len(class_names)} class names, but this OWLv2 graph takes at most {limit}: detect fewer classes "
                f"or export again with `sam2auto export --detector owlv2 --max-classes {len(class_names)}`"
            )
        embeds = self.text_embeddings(class_names).astype(np.float32)
        queries = np.zeros((1, limit or len(class_names), embeds.shape[1]), dtype=np.float32)
        queries[0, : len(class_names)] = embeds
        pixels = self.processor.image_processor(images=image, return_tensors="np")["pixel_values"].astype(np.float32)
        logits, boxes = self.towers.detect(pixels, queries)
        return boxes_from_outputs(logits[0, :, : len(class_names)], boxes[0], max(image.shape[:2]))
