"""Random-weight SAM 2.1 tiny at 256 px and a torchvision-free frame encoder for the tests.

Encoding follows SAM2ImagePredictor.set_image (resize to the model's square input, ImageNet
normalisation, forward_image, no no_mem_embed added), written without torchvision.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

IMAGE_SIZE = 256
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


@dataclass(frozen=True)
class Features:
    orig_hw: tuple[int, int]
    image_embed: torch.Tensor
    high_res_feats: tuple[torch.Tensor, ...]


@functools.lru_cache(maxsize=2)
def tiny_sam2(image_size: int = IMAGE_SIZE, seed: int = 0):
    from sam2.build_sam import build_sam2

    torch.manual_seed(seed)
    model = build_sam2(
        "configs/sam2.1/sam2.1_hiera_t.yaml",
        ckpt_path=None,
        device="cpu",
        hydra_overrides_extra=[f"++model.image_size={image_size}"],
    )
    return model.eval()


@torch.no_grad()
def encode(model, image: np.ndarray) -> Features:
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255.0
    x = F.interpolate(x, size=(model.image_size, model.image_size), mode="bilinear", align_corners=False)
    out = model.forward_image((x - MEAN) / STD)
    fpn = out["backbone_fpn"]
    return Features(tuple(image.shape[:2]), fpn[-1], (fpn[0], fpn[1]))
