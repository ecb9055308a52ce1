"""Byte layouts of the records in bpf/netdrop.h, for decoding in pure Python (keep in step with the header)."""
import struct

# struct drop_key: netns, ifindex, reason, pkt_type, family, dst_mac[6], <pad 4>, location, daddr[16]
DROP_KEY = struct.Struct("<IIIBB6s4xQ16s")
# struct drop_event header; data[SNAPLEN] follows
DROP_EVENT = struct.Struct("<QQIIIIHBBHHiI")
# struct class_key: netns, ifindex, dst_mac, src_mac, hook
CLASS_KEY = struct.Struct("<II6s6sI")

assert DROP_KEY.size == 48 and DROP_EVENT.size == 48 and CLASS_KEY.size == 24

STATS = ("counted", "events", "lost", "sampled", "map_full", "classified", "reached_ip")
