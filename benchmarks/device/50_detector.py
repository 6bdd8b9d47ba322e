"""SMART-OD's OWLv2 detector on the device: torch against onnxruntime's CUDA and TensorRT providers.

OWLv2 base configuration (ViT-B/16, 960 px; dry run: a small configuration at 128 px) with random
weights, exported as its two graphs (``export_owlv2``) in fp32 and fp16. Per provider and
precision: ms per ``detect`` on a 1280x720 frame (vocabulary embedded), the largest logit and box
difference against torch fp32 on the same frame, and the time to embed a 20-name vocabulary
uncached against one new name. A provider that does not start is an error (strict), not a CPU
row. TensorRT builds one engine per graph on its first call (cached in the export folder).
"""

from __future__ import annotations

import functools
import logging
import statistics
import time
from collections.abc import Callable

import numpy as np
from bench_detector import NAMES
from section import device, dry, row, synchronize, work

from sam2auto_ros.onnx.detector_export import export_owlv2
from sam2auto_ros.smart_od.detectors.hf import random_owlv2
from sam2auto_ros.smart_od.detectors.owlv2 import Owlv2Detector, TorchOwlv2Towers
from sam2auto_ros.smart_od.detectors.owlv2_onnx import OnnxOwlv2Towers, load_processor

SMALL = {"text_config": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4},
         "vision_config": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                           "image_size": 128, "patch_size": 16}, "projection_dim": 64}
PROVIDERS = ("cpu",) if dry() else ("cuda", "tensorrt")
WARM, MEASURED = (1, 2) if dry() else (2, 10)


def _ms(fn: Callable[[], object]) -> float:
    synchronize()
    start = time.perf_counter()
    fn()
    synchronize()
    return 1000 * (time.perf_counter() - start)


def _frame_ms(det: Owlv2Detector, image: np.ndarray) -> float:
    for _ in range(WARM):
        det.detect(image, NAMES)
    return statistics.median(_ms(functools.partial(det.detect, image, NAMES)) for _ in range(MEASURED))


def _vocab_ms(det: Owlv2Detector) -> tuple[float, float]:
    uncached, one_new = [], []
    for _ in range(MEASURED):
        det.text_cache.clear()
        uncached.append(_ms(functools.partial(det.text_embeddings, NAMES)))
        det.text_cache.clear()
        det.text_embeddings(NAMES[1:])
        one_new.append(_ms(functools.partial(det.text_embeddings, NAMES)))
    return statistics.median(uncached), statistics.median(one_new)


def main() -> None:
    for noisy in ("onnx_ir", "onnxscript", "torch.onnx", "torch._dynamo", "torch.export"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    model, processor = random_owlv2(**(SMALL if dry() else {}))
    size = int(model.config.vision_config.image_size)
    image = np.random.default_rng(0).integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    reference = Owlv2Detector(TorchOwlv2Towers(model, device()), processor)
    row("OWLv2 torch ms/frame", f"{size} px, fp32, {device()}, {len(NAMES)} names", f"{_frame_ms(reference, image):.1f}")
    pixels = processor.image_processor(images=image, return_tensors="np")["pixel_values"]
    queries = reference.text_embeddings(NAMES)[None]
    ref_logits, ref_boxes = reference.towers.detect(pixels, queries)
    for precision in ("fp32", "fp16"):
        start = time.perf_counter()
        out = export_owlv2(model.cpu(), processor, "owlv2-random", work() / f"owlv2-{size}-{precision}", precision=precision,
                           max_queries=len(NAMES))
        row("OWLv2 ONNX export", f"{size} px, {precision}", f"{time.perf_counter() - start:.0f} s",
            "; ".join(f"{g}: {'; '.join(p)}" for g, p in out.tensorrt_problems.items()) or "TensorRT operator list: ok")
        for provider in PROVIDERS:
            towers = OnnxOwlv2Towers(out.directory, providers=[provider], strict_providers=True)
            det = Owlv2Detector(towers, load_processor(out.directory))
            ms = _frame_ms(det, image)  # first: TensorRT builds its engines in the warm-up
            logits, boxes = towers.detect(pixels, queries)
            uncached, one_new = _vocab_ms(det)
            row(f"OWLv2 onnxruntime {provider} ms/frame", f"{size} px, {precision}", f"{ms:.1f}",
                f"vs torch fp32: max logit diff {np.abs(logits - ref_logits).max():.1e}, max box diff "
                f"{np.abs(boxes - ref_boxes).max():.1e}; vocabulary of {len(NAMES)}: {uncached:.1f} ms uncached, "
                f"{one_new:.1f} ms with one new name")


if __name__ == "__main__":
    main()
