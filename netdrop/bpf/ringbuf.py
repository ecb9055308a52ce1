"""The consumer side of a BPF ring buffer (BPF_MAP_TYPE_RINGBUF), read straight from its mmap'ed pages.

No callback per record (bcc's ctypes callback cost ~1 us an event): drain() walks the records between the consumer
and producer positions and returns their bytes in one list. Layout (kernel/bpf/ringbuf.c): page 0 holds the
consumer position (ours to write), page 1 the producer position, then the data area mapped twice in a row, so a
record never needs to be stitched at the wrap. Each record: u32 length (bit 31 busy, bit 30 discarded), u32 page
offset, the data, padded to 8 bytes.
"""
from __future__ import annotations

import mmap
import struct
from typing import List

BUSY = 1 << 31
DISCARD = 1 << 30
HDR = 8
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")


class RingBuffer:
    def __init__(self, fd: int, size: int):
        page = mmap.PAGESIZE
        self.size = size
        self.mask = size - 1
        self.cons = mmap.mmap(fd, page, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        self.prod = mmap.mmap(fd, page + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ, offset=page)
        self.page = page

    def drain(self, max_records: int = 0) -> List[bytes]:
        """The committed records now in the buffer (at most max_records if > 0), consumed."""
        out: List[bytes] = []
        cons = _U64.unpack_from(self.cons, 0)[0]
        prod = _U64.unpack_from(self.prod, 0)[0]
        data, base, mask = self.prod, self.page, self.mask
        while cons < prod:
            off = base + (cons & mask)
            length = _U32.unpack_from(data, off)[0]
            if length & BUSY:
                break
            if not length & DISCARD:
                out.append(data[off + HDR:off + HDR + length])
            cons += (length & ~(BUSY | DISCARD)) + HDR + 7 & ~7
            if max_records and len(out) >= max_records:
                break
        _U64.pack_into(self.cons, 0, cons)
        return out

    def close(self) -> None:
        self.cons.close()
        self.prod.close()
