"""Tests of the ONNX encoding: it must compute what the unfolded network computes."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import efficientnet_lite as el
import numpy_reference
import onnx_graph
from test_efficientnet_lite import synthetic_state_dict


@pytest.fixture(scope="module")
def lite0():
    variant = el.VARIANTS["efficientnet-lite0"]
    sd = synthetic_state_dict(variant, seed=3)
    model = onnx_graph.build_model(el.fold_network(variant, sd))
    return variant, sd, model


def _session(model_bytes: bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def test_onnx_matches_the_unfolded_numpy_network_for_a_batch(lite0):
    variant, sd, model = lite0
    x = np.random.default_rng(11).uniform(-1, 1, (2, 3, 224, 224)).astype(np.float32)
    got = _session(onnx_graph.serialize(model)).run(["logits"], {"input": x})[0]
    want = numpy_reference.forward(variant, sd, x)
    assert got.shape == (2, 1000)
    # Random weights do not keep activations normalised, so float32 rounding reaches ~3e-4 of
    # the logit range here; a wrong pad, group or residual anywhere in the graph moves the
    # logits by more than 10% of it (checked by mutating the folded network by hand).
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, atol=1e-3 * scale, rtol=0)
    # The two images differ, so must their logits (the batch axis is not mixed up).
    assert not np.allclose(got[0], got[1])


def test_interface_is_input_nchw_with_dynamic_batch_and_logits(lite0):
    _, _, model = lite0
    (inp,) = model.graph.input
    (out,) = model.graph.output
    assert inp.name == "input" and out.name == "logits"
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == ["N", 3, 224, 224]
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == ["N", 1000]
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert model.opset_import[0].version == onnx_graph.OPSET


def test_stem_padding_is_asymmetric_and_relu6_is_clip(lite0):
    _, _, model = lite0
    stem = next(n for n in model.graph.node if n.name == "stem/Conv")
    pads = next(a for a in stem.attribute if a.name == "pads")
    assert list(pads.ints) == [0, 0, 1, 1]
    ops = {n.op_type for n in model.graph.node}
    assert ops == {"Conv", "Clip", "Add", "GlobalAveragePool", "Flatten", "Gemm"}
    assert sum(n.op_type == "Add" for n in model.graph.node) == 9


def test_serialisation_is_deterministic():
    variant = el.VARIANTS["efficientnet-lite0"]
    sd = synthetic_state_dict(variant, seed=5)
    first = onnx_graph.serialize(onnx_graph.build_model(el.fold_network(variant, sd)))
    second = onnx_graph.serialize(onnx_graph.build_model(el.fold_network(variant, dict(sd))))
    assert first == second
