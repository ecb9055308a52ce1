"""Build small BTF blobs for unit tests (the format of include/uapi/linux/btf.h), so the resolver's handling of
anonymous members, bitfields, typedefs and prototypes is checked without a kernel."""
import struct

INT, PTR, STRUCT, UNION, ENUM, TYPEDEF, FUNC_PROTO = 1, 2, 4, 5, 6, 8, 13


class BTFBuilder:
    def __init__(self):
        self.strings = b"\0"
        self.types = []  # bytes per type, id = index + 1

    def s(self, text):
        if not text:
            return 0
        off = len(self.strings)
        self.strings += text.encode() + b"\0"
        return off

    def add(self, name, kind, vlen, size_or_type, trailer=b"", kflag=False):
        info = (kind << 24) | vlen | (1 << 31 if kflag else 0)
        self.types.append(struct.pack("<III", self.s(name), info, size_or_type) + trailer)
        return len(self.types)

    def int_(self, name, size):
        return self.add(name, INT, 0, size, struct.pack("<I", size * 8))

    def ptr(self, target):
        return self.add("", PTR, 0, target)

    def composite(self, kind, name, size, members, kflag=False):
        """members: (name, type_id, bit_offset, bitfield_size)"""
        trailer = b""
        for mname, mtype, bits, bsize in members:
            off = (bsize << 24 | bits) if kflag else bits
            trailer += struct.pack("<III", self.s(mname), mtype, off)
        return self.add(name, kind, len(members), size, trailer, kflag)

    def enum(self, name, values):
        trailer = b"".join(struct.pack("<Ii", self.s(n), v) for n, v in values)
        return self.add(name, ENUM, len(values), 4, trailer)

    def typedef(self, name, target):
        return self.add(name, TYPEDEF, 0, target)

    def proto(self, params):
        trailer = b"".join(struct.pack("<II", 0, t) for t in params)
        return self.add("", FUNC_PROTO, len(params), 0, trailer)

    def blob(self):
        types = b"".join(self.types)
        hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(self.strings))
        return hdr + types + self.strings
