# Rudder: the commands a user (and CI) runs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Debian packages the tests and the demo use. Installed only when missing.
APT_PACKAGES := openvswitch-switch openvswitch-common openvswitch-testcontroller mininet \
                iproute2 iputils-ping python3-venv python3-pip curl \
                chromium chromium-driver fonts-dejavu-core ethtool prometheus
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: help deps venv build test lint demo bench-controller

help:
	@echo "make demo   - run the load-balancing demo (see README)"
	@echo "make test   - run every test: fmt, clippy, unit, conformance, integration"
	@echo "make deps   - install the Debian packages and Python tools the tests need"
	@echo "make model  - fetch, verify and convert the EfficientNet-Lite models to ONNX"
	@echo "make bench-controller - rudder bench: rudder vs ovs-testcontroller, ratio (ROUNDS=5)"

deps: venv
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo ">> installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

venv: $(VENV)/.ok
$(VENV)/.ok: requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

build:
	cargo build --workspace --all-targets

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# The README's test command. Installs what is missing first (Debian packages, Python tools, model).
test: deps model lint
	cargo test --workspace
	@# Mininet acceptance runs (root, Mininet and the system Open vSwitch; about 2 minutes).
	@# --workspace, not -p: the same feature set as the build above, so nothing is compiled again.
	cargo test --workspace --test topology_mininet -- --ignored --test-threads=1
	cargo test --workspace --test mininet_run -- --ignored --test-threads=1
	$(PY) -m pytest -q inference-node/model mininet/tests

# The README's first command. ARGS=--once classifies the samples, tears down and exits (0 = all ok).
# TOPOLOGY picks another file from topologies/ (e.g. hetero, tree, fat-tree).
TOPOLOGY ?= default
demo: deps model
	@echo ">> building Rudder in release mode (the first build takes several minutes)"
	cargo build --release --workspace --bins
	target/release/rudder demo $(TOPOLOGY) $(ARGS)

# Issue 3's speed goals, measured as a ratio against ovs-testcontroller in the same command.
bench-controller: deps
	cargo build --release -p rudder-controller
	scripts/bench-vs-ovs-testcontroller.sh

include inference-node/model/model.mk
