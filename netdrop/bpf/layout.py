"""Byte layouts of the records in bpf/netdrop.h, for decoding in pure Python (keep in step with the header)."""
import struct

# struct drop_key: netns, ifindex, reason, pkt_type, family, dst_mac[6], <pad 4>, location, daddr[16]
DROP_KEY = struct.Struct("<IIIBB6s4xQ16s")
# struct drop_event header; data[SNAPLEN] follows
DROP_EVENT = struct.Struct("<QQIIIIHBBHHiI")
# struct class_key: netns, ifindex, dst_mac, src_mac, hook
CLASS_KEY = struct.Struct("<II6s6sI")

# struct nd_state: gen, used, stat[8], seq, pending, last (a struct drop_key)
ND_STATE = struct.Struct("<QQ8QQQ48s")
STATE_STAT, STATE_SEQ, STATE_PENDING, STATE_LAST = 2, 10, 11, 12  # positions in ND_STATE.unpack()

assert ND_STATE.size == 8 * 12 + 48
assert DROP_KEY.size == 48 and DROP_EVENT.size == 48 and CLASS_KEY.size == 24

STATS = ("counted", "events", "lost", "sampled", "map_full", "classified", "reached_ip")
