"""Baseline for the inference-node benchmark: FastAPI + onnxruntime serving the same ONNX file
with the same preprocessing (imported from ``inference-node/model/preprocess.py``).

``POST /predict`` takes the image as the raw body (or multipart field ``file``) and returns the
top-5 labels, like ``rudder-node``. Run pinned to the same cores as the node, e.g.::

    taskset -c 0,1 python inference-node/bench/baseline_server.py --model-dir models/v1 --port 8001
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "inference-node" / "model"))
from preprocess import preprocess_image, softmax  # noqa: E402


def build_app(model_dir: Path, threads: int) -> FastAPI:
    manifest = json.loads((model_dir / "model.json").read_text())
    labels = json.loads((model_dir / manifest["labels"]).read_text())
    options = ort.SessionOptions()
    if threads > 0:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    app = FastAPI()

    def classify(data: bytes) -> dict:
        started = time.perf_counter()
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                tensor = preprocess_image(image, manifest["resize_shorter"], manifest["input_size"])
        except Exception as err:  # noqa: BLE001 - any decode failure is the client's
            raise HTTPException(status_code=400, detail=f"cannot decode image: {err}") from err
        logits = session.run(None, {input_name: tensor})[0][0]
        probs = softmax(logits)
        top = np.argsort(-probs, kind="stable")[:5]
        return {
            "predictions": [
                {"class_id": int(i), "label": labels[i], "confidence": float(probs[i])} for i in top
            ],
            "model": {"name": manifest["name"], "version": manifest["version"]},
            "timings_ms": {"total": (time.perf_counter() - started) * 1e3},
        }

    @app.post("/predict")
    async def predict(request: Request) -> dict:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await request.form()
            data = await form["file"].read()
        else:
            data = await request.body()
        if not data:
            raise HTTPException(status_code=400, detail="empty body")
        return await run_in_threadpool(classify, data)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=REPO / "models" / "v1")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0 = default)")
    args = parser.parse_args()
    uvicorn.run(build_app(args.model_dir, args.threads), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
