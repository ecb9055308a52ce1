"""The records of bpf/netdrop.h, described once here by field name and C type, for decoding in pure Python. The
struct formats are built from these descriptions, and tests/unit/test_contract.py parses netdrop.h and checks every
name, offset and size against them (a root test checks bcc's own view too)."""
import struct
from typing import Dict, Tuple

# C type -> struct format character (little-endian, as every kernel netdrop runs on here)
CTYPES = {"u8": "B", "u16": "H", "u32": "I", "s32": "i", "u64": "Q"}

Fields = Tuple[Tuple[str, str, int], ...]  # (name, C type, array length; 1 = scalar)

DROP_KEY_FIELDS: Fields = (("netns", "u32", 1), ("ifindex", "u32", 1), ("reason", "u32", 1), ("pkt_type", "u8", 1),
                           ("family", "u8", 1), ("dst_mac", "u8", 6), ("location", "u64", 1), ("daddr", "u8", 16))
# the header of struct drop_event; data[SNAPLEN] follows it
DROP_EVENT_FIELDS: Fields = (("ts", "u64", 1), ("location", "u64", 1), ("netns", "u32", 1), ("ifindex", "u32", 1),
                             ("reason", "u32", 1), ("frame_len", "u32", 1), ("protocol", "u16", 1),
                             ("pkt_type", "u8", 1), ("has_mac", "u8", 1), ("caplen", "u16", 1),
                             ("net_off", "u16", 1), ("stack_id", "s32", 1), ("cpu", "u32", 1))
CLASS_KEY_FIELDS: Fields = (("netns", "u32", 1), ("ifindex", "u32", 1), ("dst_mac", "u8", 6), ("src_mac", "u8", 6),
                            ("hook", "u32", 1))
STAT_MAX = 8
ND_STATE_FIELDS: Fields = (("gen", "u64", 1), ("used", "u64", 1), ("stat", "u64", STAT_MAX), ("seq", "u64", 1),
                           ("pending", "u64", 1), ("last", "struct drop_key", 1))
RECORDS: Dict[str, Fields] = {"drop_key": DROP_KEY_FIELDS, "drop_event": DROP_EVENT_FIELDS,
                              "class_key": CLASS_KEY_FIELDS, "nd_state": ND_STATE_FIELDS}


def layout(fields: Fields) -> Tuple[str, Dict[str, Tuple[int, int]]]:
    """The struct format (with C's natural alignment and padding) and {name: (offset, size)} of a record."""
    fmt, offsets, off, align = "<", {}, 0, 1
    for name, ctype, n in fields:
        if ctype.startswith("struct "):
            inner_fmt, _ = layout(RECORDS[ctype.split()[1]])
            size, a = struct.calcsize(inner_fmt), 8
            code = f"{size}s"
        else:
            code = CTYPES[ctype]
            a = size = struct.calcsize("<" + code)
            size *= n
            code = f"{n}s" if ctype == "u8" and n > 1 else (f"{n}{code}" if n > 1 else code)
        pad = -off % a
        fmt += f"{pad}x" if pad else ""
        off += pad
        offsets[name] = (off, size)
        fmt += code
        off += size
        align = max(align, a)
    tail = -off % align
    return fmt + (f"{tail}x" if tail else ""), offsets


DROP_KEY = struct.Struct(layout(DROP_KEY_FIELDS)[0])
DROP_EVENT = struct.Struct(layout(DROP_EVENT_FIELDS)[0])
CLASS_KEY = struct.Struct(layout(CLASS_KEY_FIELDS)[0])
ND_STATE = struct.Struct(layout(ND_STATE_FIELDS)[0])
# positions in ND_STATE.unpack(): gen, used, stat[8] (2..9), seq, pending, last
STATE_STAT, STATE_SEQ, STATE_PENDING, STATE_LAST = 2, 2 + STAT_MAX, 3 + STAT_MAX, 4 + STAT_MAX

# enum nd_stat, by position (names without STAT_, lower case)
STATS = ("counted", "events", "lost", "sampled", "map_full", "classified", "reached_ip")
