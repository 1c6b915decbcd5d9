#!/usr/bin/env python3
"""onnxruntime baseline: single-threaded per-image latency of the converted models.

This script owns the Python baseline the Rust inference node is compared against. For each
model version in ``models/`` and each sample image it preprocesses once (as model.json
says), then times ``session.run`` on a batch of one with one intra-op and one inter-op
thread, after warm-up runs. It prints one line per (version, image) with the median and p90
wall-clock latency, the median CPU time of the process (less sensitive to other load on a
shared machine; with one thread ORT computes on the calling thread) and the top-1 label;
``--json`` prints the same as a JSON document.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from preprocess import PreprocessError, load_and_preprocess, softmax

REPO_ROOT = Path(__file__).resolve().parents[2]


def bench_version(version_dir: Path, samples: list[Path], warmup: int, runs: int) -> list[dict]:
    import onnxruntime as ort

    manifest = json.loads((version_dir / "model.json").read_text())
    labels = json.loads((version_dir / manifest["labels"]).resolve().read_text())
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(str(version_dir / "model.onnx"), options, providers=["CPUExecutionProvider"])
    results = []
    for image in samples:
        x = load_and_preprocess(image, manifest["resize_shorter"], manifest["input_size"])
        for _ in range(warmup):
            session.run(["logits"], {"input": x})
        times, cpu_times = [], []
        for _ in range(runs):
            start, cpu_start = time.perf_counter(), time.process_time()
            logits = session.run(["logits"], {"input": x})[0]
            times.append((time.perf_counter() - start) * 1e3)
            cpu_times.append((time.process_time() - cpu_start) * 1e3)
        probs = softmax(logits)[0]
        best = int(np.argmax(probs))
        results.append(
            {
                "version": manifest["version"],
                "model": manifest["name"],
                "image": image.name,
                "median_ms": round(float(np.median(times)), 2),
                "p90_ms": round(float(np.percentile(times, 90)), 2),
                "median_cpu_ms": round(float(np.median(cpu_times)), 2),
                "top1": labels[best],
                "top1_p": round(float(probs[best]), 3),
            }
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="single-threaded onnxruntime latency per image")
    parser.add_argument("--models-dir", type=Path, default=REPO_ROOT / "models")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be >= 1 and --warmup >= 0")
    samples = sorted(p for p in (args.models_dir / "samples").glob("*") if p.suffix in (".png", ".jpg"))
    versions = sorted(d for d in args.models_dir.glob("v*") if (d / "model.json").is_file())
    if not samples or not versions:
        print(f"no models or samples in {args.models_dir}: run `make model` first", file=sys.stderr)
        return 1
    try:
        results = [r for v in versions for r in bench_version(v, samples, args.warmup, args.runs)]
    except (OSError, ValueError, KeyError, PreprocessError) as err:
        print(f"benchmark failed: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"threads": 1, "batch": 1, "runs": args.runs, "results": results}, indent=2))
    else:
        for r in results:
            print(
                f"{r['version']} {r['model']:<19} {r['image']:<14} median {r['median_ms']:7.2f} ms  "
                f"p90 {r['p90_ms']:7.2f} ms  cpu {r['median_cpu_ms']:7.2f} ms  "
                f"top-1 {r['top1']} ({r['top1_p']:.3f})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
