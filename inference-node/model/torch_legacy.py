"""Read a PyTorch *legacy* (pre-1.6, non-zip) checkpoint into numpy arrays, without torch.

This module owns the on-disk format only; it knows nothing about EfficientNet.

The legacy format, as written by ``torch.save(..., _use_new_zipfile_serialization=False)``
(torch/serialization.py ``_legacy_save``), is a concatenation of:

1. a pickle of the magic number ``0x1950a86a20f9469cfc6c``;
2. a pickle of the protocol version (``1001``);
3. a pickle of a sys-info dict (``little_endian``, ``type_sizes``);
4. the main pickle (the state dict). Tensors appear as calls to
   ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)``
   and storages as *persistent ids* ``("storage", StorageType, key, location, numel, view)``;
5. a pickle of the list of storage keys, in the order their bytes follow;
6. for each key: an 8-byte little-endian element count, then ``count * element_size`` raw bytes.

Only an allow-list of globals is resolved (``collections.OrderedDict``, the tensor rebuild
functions and the ``torch.*Storage`` types), so a hostile file cannot run code: any other
global is a :class:`TorchLegacyError`.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

# Storage class name -> numpy little-endian dtype (torch/storage.py type names).
STORAGE_DTYPES: dict[str, np.dtype] = {
    "DoubleStorage": np.dtype("<f8"),
    "FloatStorage": np.dtype("<f4"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class TorchLegacyError(ValueError):
    """The file is not a well-formed legacy torch checkpoint; the message says what failed."""


@dataclass(frozen=True)
class _StorageType:
    """Stand-in for a ``torch.FloatStorage``-like class named in the pickle."""

    name: str
    dtype: np.dtype


@dataclass
class _Storage:
    """A storage declared in the main pickle; its bytes arrive after the pickle ends."""

    key: str
    dtype: np.dtype
    numel: int
    data: np.ndarray | None = None


@dataclass(frozen=True)
class _StorageView:
    """A legacy view into a root storage: ``numel`` elements from ``offset``."""

    root: _Storage
    offset: int
    numel: int


@dataclass(frozen=True)
class _PendingTensor:
    """A tensor whose storage bytes have not been read yet."""

    storage: _Storage | _StorageView
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any, *_rest: Any) -> _PendingTensor:
    """Mirror of ``torch._utils._rebuild_tensor_v2`` (and the v1 ``_rebuild_tensor``)."""
    if not isinstance(storage, (_Storage, _StorageView)):
        raise TorchLegacyError(f"tensor rebuilt from {type(storage).__name__}, expected a storage")
    try:
        shape = tuple(int(d) for d in size)
        strides = tuple(int(s) for s in stride)
        offset = int(storage_offset)
    except (TypeError, ValueError) as err:
        raise TorchLegacyError(f"tensor has a malformed size/stride/offset: {err}") from err
    if len(shape) != len(strides):
        raise TorchLegacyError(f"tensor size {shape} and stride {strides} differ in rank")
    if offset < 0 or any(d < 0 for d in shape) or any(s < 0 for s in strides):
        raise TorchLegacyError(f"tensor has a negative offset/size/stride: {offset} {shape} {strides}")
    return _PendingTensor(storage, offset, shape, strides)


_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
}


class _CheckpointUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the allow-listed globals and records storages."""

    def __init__(self, file: BinaryIO) -> None:
        super().__init__(file)
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name, STORAGE_DTYPES[name])
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise TorchLegacyError(f"checkpoint references disallowed global {module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        # torch/serialization.py _legacy_load.persistent_load: ("storage", type, key, location, numel, view)
        if not isinstance(pid, tuple) or not pid:
            raise TorchLegacyError(f"malformed persistent id {pid!r}")
        if pid[0] == "module":
            # Source code of a pickled nn.Module class: informational only.
            return None
        if pid[0] != "storage" or len(pid) != 6:
            raise TorchLegacyError(f"unsupported persistent id kind {pid[0]!r} (len {len(pid)})")
        _, storage_type, key, _location, numel, view = pid
        if not isinstance(storage_type, _StorageType):
            raise TorchLegacyError(f"storage {key!r} has unknown type {storage_type!r}")
        if not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
            raise TorchLegacyError(f"storage id has a malformed key/numel: {key!r} {numel!r}")
        root = self.storages.get(key)
        if root is None:
            root = _Storage(key, storage_type.dtype, numel)
            self.storages[key] = root
        elif root.dtype != storage_type.dtype:
            raise TorchLegacyError(f"storage {key!r} is declared with two element types")
        if view is None:
            return root
        try:
            _view_key, view_offset, view_numel = view
            view_offset, view_numel = int(view_offset), int(view_numel)
        except (TypeError, ValueError) as err:
            raise TorchLegacyError(f"storage {key!r} has malformed view metadata {view!r}") from err
        return _StorageView(root, view_offset, view_numel)


def _read_exact(file: BinaryIO, count: int, what: str) -> bytes:
    data = file.read(count)
    if len(data) != count:
        raise TorchLegacyError(f"file truncated while reading {what}: wanted {count} bytes, got {len(data)}")
    return data


def _load_header_pickle(file: BinaryIO, what: str) -> Any:
    # The header pickles hold only ints and plain dicts: forbid every global.
    class _NoGlobals(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            raise TorchLegacyError(f"{what} references global {module}.{name}")

    try:
        return _NoGlobals(file).load()
    except TorchLegacyError:
        raise
    except Exception as err:  # pickle raises many types on garbage input
        raise TorchLegacyError(f"cannot unpickle {what}: {err}") from err


def _materialise(tensor: _PendingTensor) -> np.ndarray:
    """Copy the tensor's elements out of its (now loaded) storage, honouring strides."""
    if isinstance(tensor.storage, _StorageView):
        root, base, limit = tensor.storage.root, tensor.storage.offset, tensor.storage.numel
        if base + limit > root.numel:
            raise TorchLegacyError(f"view of storage {root.key!r} runs past its {root.numel} elements")
    else:
        root, base, limit = tensor.storage, 0, tensor.storage.numel
    if root.data is None:
        raise TorchLegacyError(f"storage {root.key!r} is used by a tensor but its bytes are not in the file")
    if 0 in tensor.shape:
        return np.zeros(tensor.shape, dtype=root.dtype)
    last = tensor.offset + sum((d - 1) * s for d, s in zip(tensor.shape, tensor.stride, strict=True))
    if last >= limit:
        raise TorchLegacyError(
            f"tensor {tensor.shape} stride {tensor.stride} offset {tensor.offset} "
            f"reads element {last} of a {limit}-element storage {root.key!r}"
        )
    itemsize = root.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        root.data[base + tensor.offset :],
        shape=tensor.shape,
        strides=tuple(s * itemsize for s in tensor.stride),
        writeable=False,
    )
    return np.ascontiguousarray(view).astype(root.dtype.newbyteorder("="), copy=False)


def _resolve(obj: Any) -> Any:
    """Replace every pending tensor inside dicts/lists/tuples by its numpy array."""
    if isinstance(obj, _PendingTensor):
        return _materialise(obj)
    if isinstance(obj, collections.OrderedDict):
        return collections.OrderedDict((k, _resolve(v)) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: _resolve(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_resolve(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_resolve(v) for v in obj)
    return obj


def load_legacy_checkpoint(file: BinaryIO) -> Any:
    """Parse a legacy torch checkpoint from ``file``; tensors become numpy arrays.

    Raises :class:`TorchLegacyError` on any malformed or unsupported input.
    """
    magic = _load_header_pickle(file, "magic number")
    if magic != LEGACY_MAGIC:
        raise TorchLegacyError(
            f"not a legacy torch checkpoint: magic {magic!r} != {LEGACY_MAGIC:#x} "
            "(zip-format checkpoints start with 'PK')"
        )
    protocol = _load_header_pickle(file, "protocol version")
    if protocol != LEGACY_PROTOCOL:
        raise TorchLegacyError(f"unsupported legacy protocol version {protocol!r}, expected {LEGACY_PROTOCOL}")
    sys_info = _load_header_pickle(file, "sys info")
    if not isinstance(sys_info, dict) or sys_info.get("little_endian") is not True:
        raise TorchLegacyError(f"only little-endian checkpoints are supported; sys info is {sys_info!r}")

    unpickler = _CheckpointUnpickler(file)
    try:
        result = unpickler.load()
    except TorchLegacyError:
        raise
    except Exception as err:
        raise TorchLegacyError(f"cannot unpickle the main object: {err}") from err

    keys = _load_header_pickle(file, "storage key list")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise TorchLegacyError(f"storage key list is malformed: {type(keys).__name__}")
    for key in keys:
        storage = unpickler.storages.get(key)
        if storage is None:
            raise TorchLegacyError(f"storage {key!r} has bytes in the file but is not referenced")
        (count,) = struct.unpack("<q", _read_exact(file, 8, f"element count of storage {key!r}"))
        if count != storage.numel:
            raise TorchLegacyError(f"storage {key!r} declares {storage.numel} elements but holds {count}")
        raw = _read_exact(file, count * storage.dtype.itemsize, f"data of storage {key!r}")
        storage.data = np.frombuffer(raw, dtype=storage.dtype)
    if file.read(1):
        raise TorchLegacyError("trailing bytes after the last storage")
    return _resolve(result)


def load_legacy_checkpoint_bytes(data: bytes) -> Any:
    """Convenience wrapper of :func:`load_legacy_checkpoint` for an in-memory file."""
    return load_legacy_checkpoint(io.BytesIO(data))
