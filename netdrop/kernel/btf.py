"""Read struct layouts, enums and function prototypes from a kernel's BTF blob.

The running kernel's BTF (/sys/kernel/btf/vmlinux) is the only trustworthy source of struct layouts here: the header
tree bcc compiles against may belong to another kernel. This is a small, dependency-free reader of the BTF format
(include/uapi/linux/btf.h). Offsets are returned in bits so that bitfields (skb->pkt_type) are exact.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ..errors import KernelError

VMLINUX = "/sys/kernel/btf/vmlinux"
MAGIC = 0xEB9F

# BTF kinds (include/uapi/linux/btf.h)
INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT = range(1, 12)
FUNC, FUNC_PROTO, VAR, DATASEC, FLOAT, DECL_TAG, TYPE_TAG, ENUM64 = range(12, 20)

# Bytes that follow the common 12-byte header, per kind: (fixed, per vlen item)
_TRAILER = {
    INT: (4, 0), ARRAY: (12, 0), STRUCT: (0, 12), UNION: (0, 12), ENUM: (0, 8), FUNC_PROTO: (0, 8),
    VAR: (4, 0), DATASEC: (0, 12), DECL_TAG: (4, 0), ENUM64: (0, 12),
}
_MODIFIERS = (TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG)


@dataclass(frozen=True)
class Member:
    name: str
    type_id: int
    bit_offset: int
    bit_size: int  # 0 unless a bitfield


@dataclass(frozen=True)
class Field:
    """Where a (possibly nested) member lives inside its outermost struct."""

    bit_offset: int
    bit_size: int  # bitfield width, or the member's size in bits
    byte_size: int  # size of the member's type in bytes

    @property
    def byte_offset(self) -> int:
        return self.bit_offset // 8


class BTF:
    def __init__(self, blob: bytes):
        if len(blob) < 24:
            raise KernelError("BTF blob is truncated", "is /sys/kernel/btf/vmlinux readable?")
        magic, _ver, _flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from("<HBBIIIII", blob)
        if magic != MAGIC:
            raise KernelError("not a little-endian BTF blob", "netdrop reads the running kernel's BTF")
        self._blob = blob
        self._strs = hdr_len + str_off
        self._str_end = self._strs + str_len
        self._offsets: List[int] = [0]  # type id -> byte offset of its header (id 0 is void)
        self._by_name_off: Dict[int, List[int]] = {}  # string offset -> ids of named structs, enums, typedefs...
        self._index(hdr_len + type_off, hdr_len + type_off + type_len)

    @classmethod
    def load(cls, path: str = VMLINUX) -> "BTF":
        try:
            with open(path, "rb") as f:
                return cls(f.read())
        except FileNotFoundError:
            raise KernelError(f"no BTF at {path}",
                              "netdrop needs a kernel built with CONFIG_DEBUG_INFO_BTF=y") from None
        except PermissionError:
            raise KernelError(f"cannot read {path}", "run netdrop as root") from None

    # -- indexing -------------------------------------------------------------------------------------------------
    def _index(self, pos: int, end: int) -> None:
        """One pass over the type section: where each type starts, and named types by their name's string offset
        (no string is decoded here: this pass visits ~150k types and is most of netdrop's BTF cost)."""
        blob, unpack = self._blob, struct.unpack_from
        offsets, by_name = self._offsets, self._by_name_off
        append = offsets.append
        wanted = {STRUCT, UNION, ENUM, ENUM64, TYPEDEF, FUNC}
        sizes = [(12, 0)] * 32
        for kind, (fixed, per) in _TRAILER.items():
            sizes[kind] = (12 + fixed, per)
        while pos < end:
            name_off, info = unpack("<II", blob, pos)
            kind = (info >> 24) & 0x1F
            append(pos)
            if name_off and kind in wanted:
                ids = by_name.get(name_off)
                if ids is None:
                    by_name[name_off] = [len(offsets) - 1]
                else:
                    ids.append(len(offsets) - 1)
            fixed, per = sizes[kind]
            pos += fixed + per * (info & 0xFFFF)

    def _name_offsets(self, name: str) -> List[int]:
        """Every string-section offset holding exactly `name` (BTF usually stores each string once)."""
        needle = b"\0" + name.encode() + b"\0"
        out, start = [], self._strs - 1
        while True:
            i = self._blob.find(needle, start, self._str_end)
            if i < 0:
                return out
            out.append(i + 1 - self._strs)
            start = i + 1

    def _str(self, off: int) -> str:
        start = self._strs + off
        stop = self._blob.index(b"\0", start, self._str_end)
        return self._blob[start:stop].decode()

    def _header(self, tid: int) -> Tuple[str, int, int, bool, int, int]:
        pos = self._offsets[tid]
        name_off, info, size_or_type = struct.unpack_from("<III", self._blob, pos)
        return self._str(name_off), (info >> 24) & 0x1F, info & 0xFFFF, bool(info >> 31), size_or_type, pos

    def find(self, kind: int, name: str) -> Optional[int]:
        ids = [t for off in self._name_offsets(name) for t in self._by_name_off.get(off, ())
               if self.kind(t) == kind]
        if not ids:
            return None
        if kind in (STRUCT, UNION):  # prefer a complete definition over an empty duplicate
            return max(ids, key=lambda t: self._header(t)[2])
        return ids[0]

    # -- types ------------------------------------------------------------------------------------------------------
    def kind(self, tid: int) -> int:
        return self._header(tid)[1]

    def name(self, tid: int) -> str:
        return self._header(tid)[0]

    def resolve(self, tid: int) -> int:
        """Skip typedefs and qualifiers."""
        while tid and self.kind(tid) in _MODIFIERS:
            tid = self._header(tid)[4]
        return tid

    def size(self, tid: int) -> int:
        tid = self.resolve(tid)
        _, kind, _, _, size_or_type, pos = self._header(tid)
        if kind == PTR:
            return 8
        if kind == ARRAY:
            elem, _idx, n = struct.unpack_from("<III", self._blob, pos + 12)
            return self.size(elem) * n
        return size_or_type

    def members(self, tid: int) -> List[Member]:
        _, kind, vlen, kflag, _, pos = self._header(self.resolve(tid))
        if kind not in (STRUCT, UNION):
            raise KernelError(f"BTF type {tid} is not a struct or union", "")
        out = []
        for i in range(vlen):
            name_off, mtype, off = struct.unpack_from("<III", self._blob, pos + 12 + 12 * i)
            bits, size = (off & 0xFFFFFF, off >> 24) if kflag else (off, 0)
            out.append(Member(self._str(name_off) if name_off else "", mtype, bits, size))
        return out

    def _lookup_member(self, tid: int, name: str) -> Optional[Tuple[int, Member]]:
        """Find `name` in a struct, descending into anonymous members. Returns (bit offset, member)."""
        for m in self.members(tid):
            if m.name == name:
                return m.bit_offset, m
            if not m.name and self.kind(self.resolve(m.type_id)) in (STRUCT, UNION):
                found = self._lookup_member(m.type_id, name)
                if found:
                    return m.bit_offset + found[0], found[1]
        return None

    def field(self, struct_name: str, path: str) -> Field:
        """Offset of `path` (e.g. "nd_net.net" or "ns.inum") inside `struct struct_name`."""
        tid = self.find(STRUCT, struct_name)
        if tid is None:
            raise KernelError(f"struct {struct_name} is not in this kernel's BTF", "")
        bits = 0
        member = None
        for part in path.split("."):
            if member is not None:
                tid = member.type_id
            found = self._lookup_member(tid, part)
            if found is None:
                raise KernelError(f"struct {struct_name} has no member {path}", "this kernel's layout is unexpected")
            bits += found[0]
            member = found[1]
        assert member is not None
        size = self.size(member.type_id)
        return Field(bits, member.bit_size or size * 8, size)

    def enum(self, name: str) -> Dict[int, str]:
        tid = self.find(ENUM, name) or self.find(ENUM64, name)
        if tid is None:
            return {}
        _, kind, vlen, kflag, _, pos = self._header(tid)
        out = {}
        for i in range(vlen):
            if kind == ENUM:
                name_off, val = struct.unpack_from("<Ii" if kflag else "<II", self._blob, pos + 12 + 8 * i)
            else:
                name_off, lo, hi = struct.unpack_from("<III", self._blob, pos + 12 + 12 * i)
                val = lo | (hi << 32)
            out[val] = self._str(name_off)
        return out

    def typedef_proto_params(self, typedef_name: str) -> Optional[List[str]]:
        """Parameter types of a function-pointer typedef such as btf_trace_kfree_skb (a tracepoint's TP_PROTO,
        preceded by the `void *` context), spelled like "struct sk_buff *" or "enum skb_drop_reason"."""
        tid = self.find(TYPEDEF, typedef_name)
        if tid is None:
            return None
        target = self._header(tid)[4]
        if self.kind(target) == PTR:
            target = self._header(target)[4]
        _, kind, vlen, _, _, pos = self._header(target)
        if kind != FUNC_PROTO:
            return None
        return [self.type_str(struct.unpack_from("<II", self._blob, pos + 12 + 8 * i)[1]) for i in range(vlen)]

    def type_str(self, tid: int) -> str:
        if tid == 0:
            return "void"
        name, kind, _, _, ref, _ = self._header(tid)
        if kind == PTR:
            return self.type_str(ref) + " *"
        if kind in (CONST, VOLATILE, RESTRICT, TYPE_TAG):
            return self.type_str(ref)
        prefix = {STRUCT: "struct ", UNION: "union ", ENUM: "enum ", ENUM64: "enum "}.get(kind, "")
        return prefix + (name or "?")

    def has_func(self, name: str) -> bool:
        return self.find(FUNC, name) is not None
