"""Camera frame -> SAM 2 input tensor -> :class:`FrameFeatures`.

Resizing and normalisation reproduce ``sam2.utils.misc`` exactly (PIL's default resampling to a
square ``image_size``, ``/ 255`` in float64, ImageNet mean/std in float32), so the engine sees
the same pixels as ``SAM2VideoPredictor`` reading the same frames.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from sam2auto_ros.core.propagation import PropagationError
from sam2auto_ros.core.rgb import check_rgb
from sam2auto_ros.sam2.features import IMG_MEAN, IMG_STD, FrameFeatures
from sam2auto_ros.sam2.parts import Sam2Parts


def _normalise_table() -> torch.Tensor:
    """``(3, 256)`` float32: each channel's normalised value of every uint8 level.

    Computed with SAM 2's own arithmetic (``/ 255`` in float64, cast, then mean/std in float32),
    so a look-up gives bit-identical pixels without float64 frame-sized arrays on every frame.
    """
    levels = torch.from_numpy(np.arange(256, dtype=np.uint8) / 255.0).to(torch.float32)
    mean = torch.tensor(IMG_MEAN, dtype=torch.float32)[:, None]
    std = torch.tensor(IMG_STD, dtype=torch.float32)[:, None]
    return (levels[None, :] - mean) / std


_NORMALISE = _normalise_table()


def to_model_input(image: np.ndarray, image_size: int, device: torch.device) -> torch.Tensor:
    """``(1, 3, S, S)`` normalised float32 tensor for the image encoder."""
    resized = np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize((image_size, image_size)))
    levels = torch.from_numpy(np.ascontiguousarray(resized.transpose(2, 0, 1))).to(torch.int64)  # (3, S, S)
    pixels = torch.gather(_NORMALISE, 1, levels.view(3, -1)).view(1, 3, image_size, image_size)
    return pixels.to(device)


def encode_frame(parts: Sam2Parts, image: np.ndarray, frame_index: int = -1) -> FrameFeatures:
    """Run the image encoder on one RGB uint8 frame (validated)."""
    image = check_rgb(image, PropagationError)
    pixels = to_model_input(image, parts.settings.image_size, parts.device)
    embed, pos, high_res = parts.encode_image(pixels)
    return FrameFeatures(frame_index, (int(image.shape[0]), int(image.shape[1])), embed, pos, high_res)
