"""OWLv2 and Grounding DINO weights through transformers (5.x), on their own processors.

Weights come from a local directory or a hub name (``from_pretrained``); the constructors also
take a model and processor built in memory (the tests build tiny random ones). The image
processors are the PIL ones: the default ones need torchvision, which CPU installs lack.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sam2auto_ros.smart_od.detectors.base import DetectorBackend, DetectorError, RawDetections
from sam2auto_ros.smart_od.detectors.owlv2 import Owlv2Detector, TorchOwlv2Towers


def _require_name(name_or_path: str) -> None:
    if not name_or_path:
        raise DetectorError("detector.model is empty: give a local model directory or a hub name")


def load_processor(processor_cls, image_processor_cls, name_or_path: str):
    """The processor from its parts (tokenizer, image processor); one loaded with ``image_processor=``
    passed to ``from_pretrained`` carries that object in its tokenizer's settings and cannot be saved."""
    from transformers import AutoTokenizer

    return processor_cls(image_processor=image_processor_cls.from_pretrained(name_or_path),
                         tokenizer=AutoTokenizer.from_pretrained(name_or_path))


def _load(model_cls, processor_cls, image_processor_cls, name_or_path: str, device: str):
    try:
        model = model_cls.from_pretrained(name_or_path).to(device).eval()
        processor = load_processor(processor_cls, image_processor_cls, name_or_path)
    except OSError as exc:
        raise DetectorError(
            f"cannot load detector weights from {name_or_path!r}: {exc}. Give a directory written by "
            "save_pretrained, or a hub name on a machine that reaches the hub"
        ) from exc
    return model, processor


def load_owlv2_weights(name_or_path: str, device: str = "cpu"):
    """``(Owlv2ForObjectDetection, Owlv2Processor)`` from a ``save_pretrained`` folder or a hub name."""
    _require_name(name_or_path)
    from transformers import Owlv2ForObjectDetection, Owlv2ImageProcessorPil, Owlv2Processor

    return _load(Owlv2ForObjectDetection, Owlv2Processor, Owlv2ImageProcessorPil, name_or_path, device)


def random_owlv2(text_config: dict | None = None, vision_config: dict | None = None, seed: int = 0, **config: Any):
    """``(model, processor)`` of OWLv2 with random weights and a letter-level tokenizer built in memory.

    No weights can be downloaded here: tests use tiny configurations, benchmarks the released
    ones' (the defaults of ``Owlv2Config`` are OWLv2 base at 960 px). The tokenizer spells names
    letter by letter; OWLv2 needs a start-token id above 0 (0 marks padded queries).
    """
    from transformers import CLIPTokenizer, Owlv2Config, Owlv2ForObjectDetection, Owlv2ImageProcessorPil, Owlv2Processor

    vocab = {"!": 0, "<|startoftext|>": 1, "<|endoftext|>": 2}
    for letter in "abcdefghijklmnopqrstuvwxyz":
        vocab.setdefault(letter, len(vocab))
        vocab.setdefault(letter + "</w>", len(vocab))
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], pad_token="!")
    text = {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0, **(text_config or {})}
    owl_config = Owlv2Config(text_config=text, vision_config=vision_config or {}, **config)
    torch.manual_seed(seed)
    model = Owlv2ForObjectDetection(owl_config).eval()
    side = int(owl_config.vision_config.image_size)
    processor = Owlv2Processor(image_processor=Owlv2ImageProcessorPil(size={"height": side, "width": side}), tokenizer=tokenizer)
    return model, processor


def random_grounding_dino(image_size: dict[str, int] | None = None, seed: int = 0, **config: Any):
    """``(model, processor)`` of Grounding DINO with random weights and a word-level tokenizer of a
    few class words; ``config`` goes to ``GroundingDinoConfig`` (its defaults: Swin-T, BERT-base)."""
    from transformers import (
        BertTokenizer,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessorPil,
        GroundingDinoProcessor,
    )

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "cat", "dog", "car", "person", "red", "bicycle"]
    tokenizer = BertTokenizer(vocab={w: i for i, w in enumerate(words)})
    torch.manual_seed(seed)
    model = GroundingDinoForObjectDetection(GroundingDinoConfig(use_timm_backbone=False, **config)).eval()
    image_processor = GroundingDinoImageProcessorPil(size=image_size or {"shortest_edge": 800, "longest_edge": 1333})
    return model, GroundingDinoProcessor(image_processor=image_processor, tokenizer=tokenizer)


def load_owlv2(name_or_path: str, device: str = "cpu", text_cache_size: int = 1024, **kwargs) -> Owlv2Detector:
    """OWLv2 with its two towers run by torch."""
    model, processor = load_owlv2_weights(name_or_path, device)
    return Owlv2Detector(TorchOwlv2Towers(model, device), processor, text_cache_size, **kwargs)


class GroundingDinoDetector(DetectorBackend):
    """Grounding DINO: class names joined into one prompt ("cat. red dog."); a query's score for
    a class is its highest token probability over that class's tokens."""

    def __init__(self, model, processor, device: str = "cpu", **kwargs) -> None:
        super().__init__(**kwargs)
        self.model, self.processor, self.device = model.eval(), processor, device

    @classmethod
    def from_pretrained(cls, name_or_path: str, device: str = "cpu", **kwargs) -> GroundingDinoDetector:
        _require_name(name_or_path)
        from transformers import GroundingDinoForObjectDetection, GroundingDinoImageProcessorPil, GroundingDinoProcessor

        model, processor = _load(
            GroundingDinoForObjectDetection, GroundingDinoProcessor, GroundingDinoImageProcessorPil, name_or_path, device
        )
        return cls(model, processor, device, **kwargs)

    def _class_token_spans(self, prompt: str, class_names: list[str], length: int) -> list[np.ndarray]:
        encoded = self.processor.tokenizer(prompt, return_offsets_mapping=True)
        offsets = np.asarray(encoded["offset_mapping"])[:length]
        spans, start = [], 0
        for name in class_names:
            begin = prompt.index(name, start)
            end = start = begin + len(name)
            tokens = np.flatnonzero((offsets[:, 0] >= begin) & (offsets[:, 1] <= end) & (offsets[:, 1] > offsets[:, 0]))
            if tokens.size == 0:
                raise DetectorError(
                    f"class {name!r} has no tokens inside the text encoder's {length} positions: use fewer or shorter class names"
                )
            spans.append(tokens)
        return spans

    @torch.no_grad()
    def _predict(self, image: np.ndarray, class_names: list[str]) -> RawDetections:
        prompt = " ".join(f"{name.lower()}." for name in class_names)
        inputs = self.processor(
            images=image, text=prompt, return_tensors="pt", truncation=True, max_length=self.model.config.max_text_len
        ).to(self.device)
        outputs = self.model(**inputs)
        height, width = image.shape[:2]
        result = self.processor.post_process_grounded_object_detection(
            outputs, inputs["input_ids"], threshold=-1.0, text_threshold=1.0, target_sizes=[(height, width)]
        )[0]
        length = int(inputs["input_ids"].shape[1])
        probs = outputs.logits[0, :, :length].sigmoid().cpu().numpy()  # (queries, tokens)
        spans = self._class_token_spans(prompt, [n.lower() for n in class_names], length)
        class_scores = np.stack([probs[:, tokens].max(axis=1) for tokens in spans], axis=1)
        return RawDetections(result["boxes"].cpu().numpy(), class_scores.max(axis=1), class_scores.argmax(axis=1))
