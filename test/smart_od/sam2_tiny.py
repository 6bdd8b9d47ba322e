"""Random-weight SAM 2.1 tiny at 256 px, encoded with the engine's own frame encoder."""

from __future__ import annotations

import functools

import numpy as np
import torch

from sam2auto_ros.sam2.features import FrameFeatures
from sam2auto_ros.sam2.image import encode_frame
from sam2auto_ros.sam2.loading import build_random_model
from sam2auto_ros.sam2.parts import TorchSam2Parts

CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
IMAGE_SIZE = 256


@functools.lru_cache(maxsize=1)
def tiny_sam2(image_size: int = IMAGE_SIZE):
    torch.manual_seed(0)
    model = build_random_model(CONFIG, image_size=image_size)
    return model, TorchSam2Parts(model)


def encode(image: np.ndarray, image_size: int = IMAGE_SIZE) -> FrameFeatures:
    return encode_frame(tiny_sam2(image_size)[1], image)
