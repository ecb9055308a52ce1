import os
import re
import shutil
import subprocess

import pytest

from netdrop.kernel.offsets import kfree_skb_args, struct_offsets
from netdrop.errors import KernelError
from netdrop.kernel.btf import BTF

from ..btfbuild import STRUCT, UNION, BTFBuilder


def small_kernel(with_reason=True):
    """A fake kernel's BTF: sk_buff with dev inside an anonymous union of an anonymous struct, pkt_type a 3-bit
    bitfield at bit 1024 (+ offset 1 inside its byte), and the kfree_skb tracepoint prototype."""
    b = BTFBuilder()
    u8, u16, u32, u64 = b.int_("u8", 1), b.int_("u16", 2), b.int_("u32", 4), b.int_("u64", 8)
    void_p = b.ptr(0)
    net = b.composite(STRUCT, "ns_common", 32, [("inum", u32, 24 * 8, 0)])
    netst = b.composite(STRUCT, "net", 256, [("ns", net, 152 * 8, 0)])
    net_p = b.ptr(netst)
    possible = b.composite(STRUCT, "", 8, [("net", net_p, 0, 0)])
    dev = b.composite(STRUCT, "net_device", 2048, [("ifindex", u32, 224 * 8, 0), ("nd_net", possible, 264 * 8, 0)])
    dev_p = b.ptr(dev)
    inner = b.composite(STRUCT, "", 24, [("next", void_p, 0, 0), ("prev", void_p, 64, 0), ("dev", dev_p, 128, 0)])
    union = b.composite(UNION, "", 24, [("", inner, 0, 0), ("rbnode", u64, 0, 0)])
    headers = b.composite(STRUCT, "", 16, [("protocol", u16, 0, 0), ("network_header", u16, 32, 0),
                                           ("mac_header", u16, 48, 0)])
    skb = b.composite(STRUCT, "sk_buff", 232, [
        ("", union, 0, 0), ("len", u32, 112 * 8, 0), ("data_len", u32, 116 * 8, 0),
        ("pkt_type", u8, 1024 + 1, 3), ("", headers, 176 * 8, 0), ("head", void_p, 192 * 8, 0),
        ("data", void_p, 200 * 8, 0)], kflag=True)
    skb_p = b.ptr(skb)
    reason = b.enum("skb_drop_reason", [("SKB_DROP_REASON_NOT_SPECIFIED", 2), ("SKB_DROP_REASON_OTHERHOST", 13)])
    params = [void_p, skb_p, void_p] + ([reason] if with_reason else [])
    b.typedef("btf_trace_kfree_skb", b.ptr(b.proto(params)))
    return BTF(b.blob())


def test_nested_anonymous_members_and_bitfield():
    btf = small_kernel()
    assert btf.field("sk_buff", "dev").byte_offset == 16
    pt = btf.field("sk_buff", "pkt_type")
    assert (pt.bit_offset, pt.bit_size) == (1025, 3)
    assert btf.field("sk_buff", "mac_header").byte_offset == 182
    assert btf.field("net_device", "nd_net.net").byte_offset == 264
    assert btf.field("net", "ns.inum").byte_offset == 176


def test_struct_offsets_macros():
    m = struct_offsets(small_kernel())
    assert m["OFF_SKB_DEV"] == 16 and m["OFF_SKB_HEAD"] == 192 and m["OFF_SKB_NETWORK_HEADER"] == 180
    assert (m["OFF_SKB_PKT_TYPE_BYTE"], m["PKT_TYPE_SHIFT"], m["PKT_TYPE_MASK"]) == (128, 1, 7)
    assert m["OFF_NET_INUM"] == 176 and m["OFF_DEV_IFINDEX"] == 224


def test_tracepoint_prototype_with_and_without_reason():
    assert kfree_skb_args(small_kernel(True)) == {"ARG_REASON": 2}
    assert kfree_skb_args(small_kernel(False)) == {"ARG_REASON": -1}  # 5.10: (skb, location)


def test_enum_names():
    assert small_kernel().enum("skb_drop_reason") == {2: "SKB_DROP_REASON_NOT_SPECIFIED",
                                                      13: "SKB_DROP_REASON_OTHERHOST"}


def test_missing_member_is_an_error():
    with pytest.raises(KernelError):
        small_kernel().field("sk_buff", "nonexistent")


def test_bad_magic():
    with pytest.raises(KernelError):
        BTF(b"\0" * 64)


LIVE = "/sys/kernel/btf/vmlinux"


def _bpftool_offset(raw: str, struct_id: str, member: str):
    """Bit offset of `member` in the type with id `struct_id`, descending into anonymous members, from
    `bpftool btf dump ... format raw` text (an independent reading of the same BTF)."""
    block = re.search(rf"^\[{struct_id}\] (?:STRUCT|UNION) '[^']*' size=\d+ vlen=\d+\n((?:\t.*\n)*)", raw, re.M)
    for line in block.group(1).splitlines():
        m = re.match(r"\t'([^']*)' type_id=(\d+) bits_offset=(\d+)", line)
        if not m:
            continue
        name, tid, bits = m.group(1), m.group(2), int(m.group(3))
        if name == member:
            return bits
        if name == "(anon)":
            inner = re.search(rf"^\[{tid}\] (STRUCT|UNION) ", raw, re.M)
            if inner:
                found = _bpftool_offset(raw, tid, member)
                if found is not None:
                    return bits + found
    return None


@pytest.mark.skipif(not (os.path.exists(LIVE) and shutil.which("bpftool") and os.access(LIVE, os.R_OK)),
                    reason="needs the running kernel's BTF and bpftool")
def test_live_offsets_match_bpftool():
    """Every offset netdrop compiles in equals what bpftool reads from the same BTF."""
    raw = subprocess.run(["bpftool", "btf", "dump", "file", LIVE, "format", "raw"], capture_output=True,
                         text=True, check=True).stdout
    btf = BTF.load(LIVE)

    def struct_id(name):
        ids = re.findall(rf"^\[(\d+)\] STRUCT '{name}' size=\d+ vlen=(\d+)", raw, re.M)
        return max(ids, key=lambda x: int(x[1]))[0]

    skb, dev = struct_id("sk_buff"), struct_id("net_device")
    for member in ("dev", "len", "data_len", "head", "data", "pkt_type", "protocol", "mac_header",
                   "network_header"):
        assert btf.field("sk_buff", member).bit_offset == _bpftool_offset(raw, skb, member), member
    for member in ("ifindex", "nd_net"):
        assert btf.field("net_device", member).bit_offset == _bpftool_offset(raw, dev, member), member


def test_window_covers_fields_or_gives_up():
    from netdrop.kernel.offsets import window
    assert window([(16, 8), (112, 4), (128, 1), (200, 8)]) == (16, 192)
    assert window([(224, 4), (264, 8)]) == (224, 48)
    assert window([(224, 4), (1280, 8)]) == (0, 0)  # 6.1's net_device: read the fields one by one
