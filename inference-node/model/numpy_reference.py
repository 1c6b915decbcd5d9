"""Independent numpy forward pass of EfficientNet-Lite, straight from the *unfolded* state dict.

This module owns the cross-check of the conversion: it evaluates the network the way the
PyTorch reference does (explicit zero padding, convolution, then batch norm with running
statistics, then ReLU6) without batch-norm folding and without ONNX, so a wrong fold, pad,
group or residual in the ONNX graph shows up as a logit mismatch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from efficientnet_lite import BATCH_NORM_EPSILON, LiteVariant, block_specs, same_padding


def conv2d(x: np.ndarray, weight: np.ndarray, stride: int, pads: tuple[int, int, int, int], group: int) -> np.ndarray:
    """NCHW convolution, no bias. ``pads`` is (top, left, bottom, right); ``group`` is 1 or C."""
    top, left, bottom, right = pads
    x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    out_c, _, kh, kw = weight.shape
    n, c, h, w = x.shape
    oh, ow = (h - kh) // stride + 1, (w - kw) // stride + 1
    if group == 1:
        windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
        return np.einsum("nchwij,ocij->nohw", windows, weight, optimize=True)
    if group != c or out_c != c:
        raise ValueError(f"only plain or depthwise convolutions are supported (group {group}, channels {c})")
    out = np.zeros((n, c, oh, ow), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i : i + stride * (oh - 1) + 1 : stride, j : j + stride * (ow - 1) + 1 : stride]
            out += patch * weight[:, 0, i, j].reshape(1, c, 1, 1)
    return out


def batch_norm(x: np.ndarray, sd: Mapping[str, np.ndarray], prefix: str) -> np.ndarray:
    shape = (1, -1, 1, 1)
    gamma, beta = sd[f"{prefix}.weight"].reshape(shape), sd[f"{prefix}.bias"].reshape(shape)
    mean, var = sd[f"{prefix}.running_mean"].reshape(shape), sd[f"{prefix}.running_var"].reshape(shape)
    return (x - mean) / np.sqrt(var.astype(np.float64) + BATCH_NORM_EPSILON) * gamma + beta


def relu6(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 6.0)


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int, int, int]:
    before, after = same_padding(size, kernel, stride)
    return before, before, after, after


def forward(variant: LiteVariant, sd: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Logits ``[N, classes]`` (float64) for the NCHW input ``x``."""
    x = x.astype(np.float64)
    res = variant.resolution
    x = relu6(batch_norm(conv2d(x, sd["_conv_stem.weight"], 2, _same_pads(res, 3, 2), 1), sd, "_bn0"))
    for spec in block_specs(variant):
        p = f"_blocks.{spec.index}"
        inputs = x
        if spec.expand_ratio != 1:
            x = relu6(batch_norm(conv2d(x, sd[f"{p}._expand_conv.weight"], 1, (0, 0, 0, 0), 1), sd, f"{p}._bn0"))
        pads = _same_pads(spec.input_size, spec.kernel, spec.stride)
        dw = conv2d(x, sd[f"{p}._depthwise_conv.weight"], spec.stride, pads, spec.expanded_filters)
        x = relu6(batch_norm(dw, sd, f"{p}._bn1"))
        x = batch_norm(conv2d(x, sd[f"{p}._project_conv.weight"], 1, (0, 0, 0, 0), 1), sd, f"{p}._bn2")
        if spec.has_residual:
            x = x + inputs
    x = relu6(batch_norm(conv2d(x, sd["_conv_head.weight"], 1, (0, 0, 0, 0), 1), sd, "_bn1"))
    features = x.mean(axis=(2, 3))
    return features @ sd["_fc.weight"].astype(np.float64).T + sd["_fc.bias"]


def output_size(variant: LiteVariant) -> int:
    """Spatial size of the feature map before pooling (for documentation and tests)."""
    size = math.ceil(variant.resolution / 2)
    for spec in block_specs(variant):
        size = math.ceil(spec.input_size / spec.stride)
    return size
