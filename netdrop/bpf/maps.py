"""BPF maps read and written through the bpf() syscall with plain bytes: no bcc, so a run whose program came from
the compile cache (cache.py) never loads bcc or LLVM. Values of per-CPU maps come back as one bytes per CPU."""
from __future__ import annotations

import ctypes
import os
import struct
from typing import Iterator, List, Optional, Tuple

from ..kernel import bpfsys

PERCPU_TYPES = {5, 6, 10}  # BPF_MAP_TYPE_PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH
_ENOENT = 2


def possible_cpus() -> int:
    """How many values a per-CPU map holds: one per *possible* CPU (/sys/devices/system/cpu/possible, "0-3")."""
    with open("/sys/devices/system/cpu/possible") as f:
        n = 0
        for part in f.read().strip().split(","):
            lo, _, hi = part.partition("-")
            n = max(n, int(hi or lo) + 1)
        return n


class Map:
    """One map fd, owned: close() releases it (the map lives on while a loaded program uses it)."""

    def __init__(self, fd: int, name: str = ""):
        self.fd = fd
        self.type, self.key_size, self.value_size, self.max_entries, self.flags, kname = bpfsys.map_info(fd)
        self.name = name or kname.decode()
        self.ncpu = possible_cpus() if self.type in PERCPU_TYPES else 1
        self.stride = (self.value_size + 7) // 8 * 8 if self.type in PERCPU_TYPES else self.value_size
        self._key = ctypes.create_string_buffer(max(self.key_size, 1))
        self._next = ctypes.create_string_buffer(max(self.key_size, 1))
        self._val = ctypes.create_string_buffer(self.stride * self.ncpu)

    @classmethod
    def create(cls, name: str, mtype: int, key_size: int, value_size: int, max_entries: int, flags: int) -> "Map":
        fd, err = bpfsys.map_create(mtype, key_size, value_size, max_entries, flags, name.encode())
        if fd < 0:
            raise OSError(err, f"could not create BPF map {name} ({bpfsys.errname(err)})")
        return cls(fd, name)

    def spec(self) -> dict:
        """What create() needs to make a map like this one (the compile cache keeps it)."""
        return {"name": self.name, "mtype": self.type, "key_size": self.key_size, "value_size": self.value_size,
                "max_entries": self.max_entries, "flags": self.flags}

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _op(self, cmd: int, key: Optional[ctypes.Array], out: ctypes.Array, flags: int = 0) -> int:
        attr = bytearray(32)
        struct.pack_into("<IIQQQ", attr, 0, self.fd, 0, ctypes.addressof(key) if key is not None else 0,
                         ctypes.addressof(out), flags)
        res, err = bpfsys.bpf(cmd, attr)
        return 0 if res >= 0 else err

    def lookup(self, key: bytes) -> Optional[bytes]:
        ctypes.memmove(self._key, key, self.key_size)
        err = self._op(bpfsys.BPF_MAP_LOOKUP_ELEM, self._key, self._val)
        if err == _ENOENT:
            return None
        if err:
            raise OSError(err, f"lookup in BPF map {self.name}: {bpfsys.errname(err)}")
        return self._val.raw

    def per_cpu(self, key: bytes) -> List[bytes]:
        raw = self.lookup(key)
        if raw is None:
            return []
        return [raw[i * self.stride:i * self.stride + self.value_size] for i in range(self.ncpu)]

    def update(self, key: bytes, value: bytes) -> None:
        ctypes.memmove(self._key, key, self.key_size)
        val = ctypes.create_string_buffer(value, len(value))
        err = self._op(bpfsys.BPF_MAP_UPDATE_ELEM, self._key, val)
        if err:
            raise OSError(err, f"update of BPF map {self.name}: {bpfsys.errname(err)}")

    def keys(self) -> Iterator[bytes]:
        err = self._op(bpfsys.BPF_MAP_GET_NEXT_KEY, None, self._next)
        while not err:
            key = self._next.raw[:self.key_size]
            yield key
            ctypes.memmove(self._key, key, self.key_size)
            err = self._op(bpfsys.BPF_MAP_GET_NEXT_KEY, self._key, self._next)
        if err != _ENOENT:
            raise OSError(err, f"walking BPF map {self.name}: {bpfsys.errname(err)}")

    def items_per_cpu(self) -> Iterator[Tuple[bytes, List[bytes]]]:
        for key in list(self.keys()):
            vals = self.per_cpu(key)
            if vals:  # deleted meanwhile
                yield key, vals
