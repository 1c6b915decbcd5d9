"""Tests of the EfficientNet-Lite architecture description and batch-norm folding."""

from __future__ import annotations

import numpy as np
import pytest

import efficientnet_lite as el
from numpy_reference import conv2d


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "pads"),
    [
        (224, 3, 2, (0, 1)),  # stem of Lite0: TF SAME pads only after
        (240, 3, 2, (0, 1)),  # stem of Lite1
        (56, 5, 2, (1, 2)),  # k5 stride-2 stage: asymmetric 1/2
        (15, 5, 2, (2, 2)),  # odd size: symmetric again
        (112, 3, 1, (1, 1)),  # stride 1 is always symmetric (k-1)/2
        (14, 5, 1, (2, 2)),
        (7, 1, 1, (0, 0)),  # 1x1 convolutions need no padding
    ],
)
def test_same_padding_matches_tensorflow(size, kernel, stride, pads):
    assert el.same_padding(size, kernel, stride) == pads
    before, after = pads
    # TF SAME: output size is ceil(size / stride).
    assert (size + before + after - kernel) // stride + 1 == -(-size // stride)


def test_lite0_and_lite1_block_lists():
    lite0 = el.block_specs(el.VARIANTS["efficientnet-lite0"])
    lite1 = el.block_specs(el.VARIANTS["efficientnet-lite1"])
    assert len(lite0) == 16 and len(lite1) == 21
    # Lite1 scales depth by 1.1 except the first and last stage (fix_head_stem).
    assert [s.output_filters for s in lite1].count(16) == 1 and [s.output_filters for s in lite1].count(320) == 1
    assert [s.output_filters for s in lite1].count(192) == 5
    assert sum(s.has_residual for s in lite0) == 9
    assert lite0[0].input_filters == 32 and lite0[0].expand_ratio == 1 and not lite0[0].has_residual
    assert [s.input_size for s in lite0 if s.stride == 2] == [112, 56, 28, 14]
    assert [s.input_size for s in lite1 if s.stride == 2] == [120, 60, 30, 15]


def _random_bn(rng, channels):
    return (
        rng.uniform(0.5, 1.5, channels).astype(np.float32),
        rng.normal(0, 0.5, channels).astype(np.float32),
        rng.normal(0, 0.5, channels).astype(np.float32),
        rng.uniform(0.01, 2.0, channels).astype(np.float32),
    )


@pytest.mark.parametrize("depthwise", [False, True])
@pytest.mark.parametrize("with_bias", [False, True])
def test_folded_conv_equals_conv_then_batch_norm(depthwise, with_bias):
    rng = np.random.default_rng(7)
    channels = 6
    weight = rng.normal(0, 0.3, (channels, 1 if depthwise else 4, 3, 3)).astype(np.float32)
    bias = rng.normal(0, 0.3, channels).astype(np.float32) if with_bias else None
    gamma, beta, mean, var = _random_bn(rng, channels)
    x = rng.normal(0, 1, (2, channels if depthwise else 4, 9, 9))
    group = channels if depthwise else 1
    pads = (0, 0, 1, 1)

    y = conv2d(x, weight, 2, pads, group)
    if bias is not None:
        y = y + bias.reshape(1, -1, 1, 1)
    expected = (y - mean.reshape(1, -1, 1, 1)) / np.sqrt(var.reshape(1, -1, 1, 1) + 1e-3) * gamma.reshape(
        1, -1, 1, 1
    ) + beta.reshape(1, -1, 1, 1)

    fw, fb = el.fold_batch_norm(weight, bias, gamma, beta, mean, var)
    assert fw.dtype == np.float32 and fb.dtype == np.float32
    folded = conv2d(x, fw, 2, pads, group) + fb.reshape(1, -1, 1, 1)
    np.testing.assert_allclose(folded, expected, rtol=1e-5, atol=1e-5)


def test_fold_batch_norm_uses_the_epsilon():
    # var = 0 is legal for a channel that never varied; eps keeps the scale finite.
    w = np.ones((1, 1, 1, 1), np.float32)
    fw, fb = el.fold_batch_norm(w, None, np.ones(1, np.float32), np.zeros(1, np.float32),
                                np.zeros(1, np.float32), np.zeros(1, np.float32))  # fmt: skip
    assert fw[0, 0, 0, 0] == pytest.approx(1 / np.sqrt(1e-3), rel=1e-6)
    assert fb[0] == 0


def test_fold_batch_norm_rejects_mismatched_statistics():
    w = np.ones((3, 1, 1, 1), np.float32)
    good = np.ones(3, np.float32)
    with pytest.raises(el.ArchitectureError, match="running_var has shape"):
        el.fold_batch_norm(w, None, good, good, good, np.ones(4, np.float32))
    with pytest.raises(el.ArchitectureError, match="not positive"):
        el.fold_batch_norm(w, None, good, good, good, -good)


def synthetic_state_dict(variant: el.LiteVariant, seed: int = 0) -> dict[str, np.ndarray]:
    """A random state dict with exactly the tensors and shapes of ``variant``."""
    rng = np.random.default_rng(seed)
    sd: dict[str, np.ndarray] = {}

    def conv(name: str, shape: tuple[int, ...]) -> None:
        fan_in = int(np.prod(shape[1:]))
        sd[f"{name}.weight"] = rng.normal(0, np.sqrt(2 / fan_in), shape).astype(np.float32)

    def bn(name: str, channels: int) -> None:
        gamma, beta, mean, var = _random_bn(rng, channels)
        sd.update({f"{name}.weight": gamma, f"{name}.bias": beta, f"{name}.running_mean": mean * 0.1,
                   f"{name}.running_var": var, f"{name}.num_batches_tracked": np.array([1], np.int64)})  # fmt: skip

    conv("_conv_stem", (32, 3, 3, 3))
    bn("_bn0", 32)
    for s in el.block_specs(variant):
        p = f"_blocks.{s.index}"
        if s.expand_ratio != 1:
            conv(f"{p}._expand_conv", (s.expanded_filters, s.input_filters, 1, 1))
            bn(f"{p}._bn0", s.expanded_filters)
        conv(f"{p}._depthwise_conv", (s.expanded_filters, 1, s.kernel, s.kernel))
        bn(f"{p}._bn1", s.expanded_filters)
        conv(f"{p}._project_conv", (s.output_filters, s.expanded_filters, 1, 1))
        bn(f"{p}._bn2", s.output_filters)
    conv("_conv_head", (1280, 320, 1, 1))
    bn("_bn1", 1280)
    sd["_fc.weight"] = rng.normal(0, 0.03, (1000, 1280)).astype(np.float32)
    sd["_fc.bias"] = rng.normal(0, 0.1, 1000).astype(np.float32)
    return sd


def test_fold_network_accepts_a_complete_state_dict():
    variant = el.VARIANTS["efficientnet-lite0"]
    net = el.fold_network(variant, synthetic_state_dict(variant))
    assert len(net.blocks) == 16
    assert net.stem.pads == (0, 0, 1, 1) and net.stem.stride == 2
    depthwise = [c for b in net.blocks for c in b.convs if c.name.endswith("depthwise")]
    assert all(c.group == c.weight.shape[0] for c in depthwise)
    assert not any(c.relu6 for b in net.blocks for c in b.convs if c.name.endswith("project"))


def test_fold_network_names_the_missing_or_misshapen_tensor():
    variant = el.VARIANTS["efficientnet-lite0"]
    sd = synthetic_state_dict(variant)
    missing = {k: v for k, v in sd.items() if k != "_blocks.3._bn1.running_var"}
    with pytest.raises(el.ArchitectureError, match=r"lacks _blocks\.3\._bn1\.running_var"):
        el.fold_network(variant, missing)
    # A Lite0 checkpoint is not a Lite1 network: Lite1 has more blocks.
    with pytest.raises(el.ArchitectureError, match="_blocks"):
        el.fold_network(el.VARIANTS["efficientnet-lite1"], sd)
    extra = dict(sd, **{"_blocks.99._bn0.weight": np.ones(3, np.float32)})
    with pytest.raises(el.ArchitectureError, match="does not use"):
        el.fold_network(variant, extra)
    wrong = dict(sd, **{"_fc.weight": np.ones((10, 1280), np.float32)})
    with pytest.raises(el.ArchitectureError, match=r"_fc\.weight has shape \(10, 1280\)"):
        el.fold_network(variant, wrong)
