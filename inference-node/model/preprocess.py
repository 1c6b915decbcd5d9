"""Image preprocessing and score post-processing shared by the setup check and the tests.

This module owns the reference preprocessing that ``models/vN/model.json`` describes and the
Rust inference node reproduces:

1. decode, convert to RGB (drops alpha / expands greyscale);
2. resize so the *shorter* side is ``resize_shorter`` (bilinear; the longer side is
   ``round(long * resize_shorter / short)``);
3. centre-crop ``input_size`` x ``input_size`` (offset ``(size - crop) // 2``);
4. ``x / 127.5 - 1`` per channel (``(x - mean) / std`` with mean = std = 127.5);
5. HWC -> NCHW float32 with a batch dimension of 1.

The resize is Pillow's ``Image.resize(..., BILINEAR)``, which uses a triangle filter whose
support widens with the downscale factor (i.e. it antialiases when shrinking), like
torchvision's ``Resize`` with ``antialias=True``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

MEAN = 127.5
STD = 127.5


class PreprocessError(ValueError):
    """The image cannot be decoded or is too small to preprocess."""


def resized_shape(width: int, height: int, shorter: int) -> tuple[int, int]:
    """(width, height) after scaling the shorter side to ``shorter``, keeping aspect ratio."""
    if width <= 0 or height <= 0:
        raise PreprocessError(f"image has an empty dimension: {width}x{height}")
    if width <= height:
        return shorter, max(1, round(height * shorter / width))
    return max(1, round(width * shorter / height)), shorter


def preprocess_image(image: Image.Image, resize_shorter: int, crop: int) -> np.ndarray:
    """Return the ``[1, 3, crop, crop]`` float32 network input for ``image``."""
    if crop > resize_shorter:
        raise PreprocessError(f"crop {crop} is larger than the resized shorter side {resize_shorter}")
    rgb = image.convert("RGB")
    w, h = resized_shape(rgb.width, rgb.height, resize_shorter)
    resized = rgb.resize((w, h), Image.Resampling.BILINEAR)
    left, top = (w - crop) // 2, (h - crop) // 2
    cropped = resized.crop((left, top, left + crop, top + crop))
    pixels = np.asarray(cropped, dtype=np.float32)
    normalised = (pixels - MEAN) / STD
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[np.newaxis])


def load_and_preprocess(path: Path, resize_shorter: int, crop: int) -> np.ndarray:
    """Decode ``path`` and preprocess it; raises :class:`PreprocessError` on bad files."""
    try:
        with Image.open(path) as image:
            image.load()
            return preprocess_image(image, resize_shorter, crop)
    except (OSError, Image.DecompressionBombError) as err:
        raise PreprocessError(f"cannot decode {path}: {err}") from err


def softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable softmax over the last axis, in float64."""
    shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def top_k(probabilities: np.ndarray, labels: list[str], k: int = 3) -> list[tuple[str, float]]:
    """The ``k`` most probable (label, probability) pairs of a 1-D probability vector."""
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [(labels[i], float(probabilities[i])) for i in order]
