"""EfficientNet-Lite architecture and batch-norm folding (numpy only, no torch).

This module owns *what the network is*: the per-variant block list, the TensorFlow "SAME"
padding of every convolution, and turning a PyTorch state dict (as read by
``torch_legacy``) into a list of convolutions with batch norm folded in. The ONNX encoding
lives in ``onnx_graph``.

Everything here mirrors ``efficientnet_lite_pytorch==0.1.0`` (model.py / utils.py):

* ``efficientnet_lite()``: seven stages ``r1_k3_s11_e1_i32_o16``, ``r2_k3_s22_e6_i16_o24``,
  ``r2_k5_s22_e6_i24_o40``, ``r3_k3_s22_e6_i40_o80``, ``r3_k5_s11_e6_i80_o112``,
  ``r4_k5_s22_e6_i112_o192``, ``r1_k3_s11_e6_i192_o320``; ReLU6 activations; no
  squeeze-and-excitation; batch-norm epsilon 1e-3; ``fix_head_stem``: the stem (32), the head
  (1280) and the repeat counts of the first and last stage are not scaled.
* ``Conv2dStaticSamePadding``: the padding is computed once from the input size as TF "SAME":
  ``pad = max((ceil(i/s) - 1) * s + k - i, 0)``, split ``pad // 2`` before and the rest
  after, so stride-2 convolutions pad asymmetrically (e.g. 0 before, 1 after for k3 on 224).
* ``MBConvBlock``: [expand 1x1 + BN + ReLU6] -> depthwise kxk + BN + ReLU6 -> project
  1x1 + BN (no activation) -> ``+ input`` when stride is 1 and in == out filters.
* Head: 1x1 conv + BN + ReLU6 -> global average pool -> (dropout, identity at inference) -> fc.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

BATCH_NORM_EPSILON = 1e-3
NUM_CLASSES = 1000
STEM_FILTERS = 32
HEAD_FILTERS = 1280

# (num_repeat, kernel, stride, expand_ratio, input_filters, output_filters); from utils.efficientnet_lite().
LITE_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)


class ArchitectureError(ValueError):
    """The state dict does not fit the architecture; the message names the tensor."""


@dataclass(frozen=True)
class LiteVariant:
    """Compound-scaling coefficients of one EfficientNet-Lite size (utils.efficientnet_params)."""

    name: str
    width_coefficient: float
    depth_coefficient: float
    resolution: int


VARIANTS: dict[str, LiteVariant] = {
    v.name: v
    for v in (
        LiteVariant("efficientnet-lite0", 1.0, 1.0, 224),
        LiteVariant("efficientnet-lite1", 1.0, 1.1, 240),
        LiteVariant("efficientnet-lite2", 1.1, 1.2, 260),
        LiteVariant("efficientnet-lite3", 1.2, 1.4, 280),
        LiteVariant("efficientnet-lite4", 1.4, 1.8, 300),
    )
}


@dataclass(frozen=True)
class BlockSpec:
    """One MBConv block after scaling: filters, kernel, stride and its input spatial size."""

    index: int
    input_filters: int
    output_filters: int
    expand_ratio: int
    kernel: int
    stride: int
    input_size: int

    @property
    def expanded_filters(self) -> int:
        return self.input_filters * self.expand_ratio

    @property
    def has_residual(self) -> bool:
        # MBConvBlock.forward: id_skip is always true for Lite (no "noskip" in the block strings).
        return self.stride == 1 and self.input_filters == self.output_filters


@dataclass(frozen=True)
class FoldedConv:
    """A convolution with batch norm folded in; ``pads`` is ONNX order (top, left, bottom, right)."""

    name: str
    weight: np.ndarray  # float32 [out, in/group, k, k]
    bias: np.ndarray  # float32 [out]
    stride: int
    pads: tuple[int, int, int, int]
    group: int
    relu6: bool


@dataclass(frozen=True)
class FoldedBlock:
    name: str
    convs: tuple[FoldedConv, ...]
    residual: bool


@dataclass(frozen=True)
class FoldedNetwork:
    """The whole inference network, ready to encode: stem, blocks, head conv and classifier."""

    variant: LiteVariant
    stem: FoldedConv
    blocks: tuple[FoldedBlock, ...]
    head: FoldedConv
    fc_weight: np.ndarray  # float32 [classes, HEAD_FILTERS]
    fc_bias: np.ndarray  # float32 [classes]


def round_filters(filters: int, width_coefficient: float, divisor: int = 8) -> int:
    """utils.round_filters: scale by width and round to a multiple of 8, never down by >10%."""
    scaled = filters * width_coefficient
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return int(rounded)


def same_padding(input_size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF "SAME" padding (before, after) as Conv2dStaticSamePadding computes it."""
    output_size = math.ceil(input_size / stride)
    total = max((output_size - 1) * stride + kernel - input_size, 0)
    return total // 2, total - total // 2


def block_specs(variant: LiteVariant) -> list[BlockSpec]:
    """Expand the seven Lite stages into the scaled block list of EfficientNet.__init__."""
    specs: list[BlockSpec] = []
    size = math.ceil(variant.resolution / 2)  # after the stride-2 stem
    last = len(LITE_STAGES) - 1
    for stage, (repeats, kernel, stride, expand, inp, out) in enumerate(LITE_STAGES):
        in_filters = round_filters(inp, variant.width_coefficient)
        out_filters = round_filters(out, variant.width_coefficient)
        if stage in (0, last):  # fix_head_stem: first/last stage repeats are not scaled
            if stage == 0:
                in_filters = STEM_FILTERS
        else:
            repeats = int(math.ceil(variant.depth_coefficient * repeats))
        for r in range(repeats):
            s = stride if r == 0 else 1
            i = in_filters if r == 0 else out_filters
            specs.append(BlockSpec(len(specs), i, out_filters, expand, kernel, s, size))
            size = math.ceil(size / s)
    return specs


def fold_batch_norm(
    weight: np.ndarray,
    bias: np.ndarray | None,
    gamma: np.ndarray,
    beta: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    eps: float = BATCH_NORM_EPSILON,
) -> tuple[np.ndarray, np.ndarray]:
    """Fold inference-mode batch norm into the preceding conv: ``BN(conv(x)) == conv'(x)``.

    ``scale = gamma / sqrt(var + eps)``; ``W' = W * scale`` per output channel;
    ``b' = (b - mean) * scale + beta``. Computed in float64, returned as float32, so the
    result is deterministic for a given input.
    """
    out_channels = weight.shape[0]
    for label, arr in (("gamma", gamma), ("beta", beta), ("running_mean", mean), ("running_var", var)):
        if arr.shape != (out_channels,):
            raise ArchitectureError(f"batch norm {label} has shape {arr.shape}, expected ({out_channels},)")
    if bias is not None and bias.shape != (out_channels,):
        raise ArchitectureError(f"conv bias has shape {bias.shape}, expected ({out_channels},)")
    if np.any(var.astype(np.float64) + eps <= 0):
        raise ArchitectureError("batch norm running_var + eps is not positive")
    scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
    folded_w = weight.astype(np.float64) * scale.reshape((-1,) + (1,) * (weight.ndim - 1))
    b = np.zeros(out_channels) if bias is None else bias.astype(np.float64)
    folded_b = (b - mean.astype(np.float64)) * scale + beta.astype(np.float64)
    return folded_w.astype(np.float32), folded_b.astype(np.float32)


class _StateDict:
    """Typed access to the checkpoint's tensors, with errors that name the missing tensor."""

    def __init__(self, tensors: Mapping[str, object]) -> None:
        self._tensors = tensors
        self.used: set[str] = set()

    def get(self, key: str, shape: tuple[int, ...]) -> np.ndarray:
        value = self._tensors.get(key)
        if value is None:
            raise ArchitectureError(f"state dict lacks {key}")
        if not isinstance(value, np.ndarray) or value.dtype != np.float32:
            raise ArchitectureError(f"{key} is not a float32 tensor")
        if value.shape != shape:
            raise ArchitectureError(f"{key} has shape {value.shape}, expected {shape}")
        self.used.add(key)
        return value

    def conv_bn(
        self, conv: str, bn: str, shape: tuple[int, ...], name: str, stride: int, in_size: int, group: int, relu6: bool
    ) -> FoldedConv:
        out = shape[0]
        w = self.get(f"{conv}.weight", shape)
        bn_params = [self.get(f"{bn}.{p}", (out,)) for p in ("weight", "bias", "running_mean", "running_var")]
        self.used.add(f"{bn}.num_batches_tracked")
        fw, fb = fold_batch_norm(w, None, *bn_params)
        before, after = same_padding(in_size, shape[-1], stride)
        return FoldedConv(name, fw, fb, stride, (before, before, after, after), group, relu6)


def fold_network(
    variant: LiteVariant, state_dict: Mapping[str, object], num_classes: int = NUM_CLASSES
) -> FoldedNetwork:
    """Check ``state_dict`` against ``variant``'s architecture and fold every batch norm."""
    sd = _StateDict(state_dict)
    res = variant.resolution
    stem = sd.conv_bn("_conv_stem", "_bn0", (STEM_FILTERS, 3, 3, 3), "stem", 2, res, 1, True)
    blocks: list[FoldedBlock] = []
    for spec in block_specs(variant):
        p = f"_blocks.{spec.index}"
        mid, k = spec.expanded_filters, spec.kernel
        convs: list[FoldedConv] = []
        if spec.expand_ratio != 1:
            convs.append(
                sd.conv_bn(
                    f"{p}._expand_conv",
                    f"{p}._bn0",
                    (mid, spec.input_filters, 1, 1),
                    f"block{spec.index}.expand",
                    1,
                    spec.input_size,
                    1,
                    True,
                )
            )
        convs.append(
            sd.conv_bn(
                f"{p}._depthwise_conv",
                f"{p}._bn1",
                (mid, 1, k, k),
                f"block{spec.index}.depthwise",
                spec.stride,
                spec.input_size,
                mid,
                True,
            )
        )
        out_size = math.ceil(spec.input_size / spec.stride)
        convs.append(
            sd.conv_bn(
                f"{p}._project_conv",
                f"{p}._bn2",
                (spec.output_filters, mid, 1, 1),
                f"block{spec.index}.project",
                1,
                out_size,
                1,
                False,
            )
        )
        blocks.append(FoldedBlock(f"block{spec.index}", tuple(convs), spec.has_residual))
    last = block_specs(variant)[-1]
    final_size = math.ceil(last.input_size / last.stride)
    head = sd.conv_bn("_conv_head", "_bn1", (HEAD_FILTERS, last.output_filters, 1, 1), "head", 1, final_size, 1, True)
    fc_w = sd.get("_fc.weight", (num_classes, HEAD_FILTERS))
    fc_b = sd.get("_fc.bias", (num_classes,))
    unused = sorted(set(state_dict) - sd.used)
    if unused:
        raise ArchitectureError(f"state dict has tensors the {variant.name} architecture does not use: {unused[:5]}")
    return FoldedNetwork(variant, stem, tuple(blocks), head, fc_w.copy(), fc_b.copy())
