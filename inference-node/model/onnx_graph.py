"""Encode a folded EfficientNet-Lite network as a deterministic ONNX model.

This module owns the ONNX encoding only (ops, names, opset, metadata); the network itself
comes from ``efficientnet_lite.fold_network``.

Contract with the Rust inference node:

* input ``input``: float32 ``[N, 3, R, R]`` (NCHW, RGB, ``x / 127.5 - 1``), ``N`` dynamic,
  ``R`` the variant's resolution (the TF "SAME" pads are baked in for that size);
* output ``logits``: float32 ``[N, 1000]`` (pre-softmax).

Ops (ONNX opset 13): Conv (explicit asymmetric ``pads``; ``group`` = channels for
depthwise), Clip(min 0, max 6) for ReLU6 (opset >= 11 takes min/max as inputs), Add for
residuals, GlobalAveragePool, Flatten(axis 1), Gemm(transB 1).

Determinism: node, tensor and initializer names are derived from layer names only; the
producer fields are constants; no timestamps or doc strings with run-time data; weights are
stored as little-endian ``raw_data``. The same weights therefore always give the same bytes.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from efficientnet_lite import FoldedConv, FoldedNetwork

OPSET = 13
# IR version 8 is what opset 13 shipped with (onnx 1.8); older runtimes (tract, ort) accept it.
IR_VERSION = 8
INPUT_NAME = "input"
OUTPUT_NAME = "logits"
PRODUCER_NAME = "rudder-efficientnet-lite-converter"
PRODUCER_VERSION = "1"


class _GraphBuilder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def constant(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def conv(self, x: str, layer: FoldedConv) -> str:
        w = self.constant(f"{layer.name}.weight", layer.weight)
        b = self.constant(f"{layer.name}.bias", layer.bias)
        out = f"{layer.name}.conv"
        k = layer.weight.shape[-2:]
        self.nodes.append(
            helper.make_node(
                "Conv",
                [x, w, b],
                [out],
                name=f"{layer.name}/Conv",
                kernel_shape=list(k),
                strides=[layer.stride, layer.stride],
                pads=list(layer.pads),
                dilations=[1, 1],
                group=layer.group,
            )
        )
        if not layer.relu6:
            return out
        act = f"{layer.name}.relu6"
        self.nodes.append(helper.make_node("Clip", [out, "relu6.min", "relu6.max"], [act], name=f"{layer.name}/Relu6"))
        return act


def build_model(net: FoldedNetwork) -> onnx.ModelProto:
    """Return the checked ONNX model of ``net`` (raises ``onnx.checker.ValidationError``)."""
    g = _GraphBuilder()
    g.constant("relu6.min", np.array(0.0, dtype=np.float32))
    g.constant("relu6.max", np.array(6.0, dtype=np.float32))

    x = g.conv(INPUT_NAME, net.stem)
    for block in net.blocks:
        block_input = x
        for layer in block.convs:
            x = g.conv(x, layer)
        if block.residual:
            added = f"{block.name}.residual"
            g.nodes.append(helper.make_node("Add", [x, block_input], [added], name=f"{block.name}/Add"))
            x = added
    x = g.conv(x, net.head)
    g.nodes.append(helper.make_node("GlobalAveragePool", [x], ["pool"], name="pool/GlobalAveragePool"))
    g.nodes.append(helper.make_node("Flatten", ["pool"], ["features"], name="pool/Flatten", axis=1))
    fc_w = g.constant("fc.weight", net.fc_weight)
    fc_b = g.constant("fc.bias", net.fc_bias)
    g.nodes.append(helper.make_node("Gemm", ["features", fc_w, fc_b], [OUTPUT_NAME], name="fc/Gemm", transB=1))

    res = net.variant.resolution
    classes = net.fc_weight.shape[0]
    graph = helper.make_graph(
        g.nodes,
        net.variant.name.replace("-", "_"),
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", 3, res, res])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", classes])],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=PRODUCER_NAME,
        producer_version=PRODUCER_VERSION,
        ir_version=IR_VERSION,
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def serialize(model: onnx.ModelProto) -> bytes:
    """Deterministic serialisation (protobuf map fields would otherwise be unordered)."""
    return model.SerializeToString(deterministic=True)
