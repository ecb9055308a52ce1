"""What the running kernel says the BPF programs must be compiled with: struct member offsets (from BTF, never
from a header tree), the kfree_skb tracepoint's argument positions, and the BTF ids a tp_btf program casts packet
bytes to. Pure: testable on a recorded BTF blob. netdrop/bpf/ receives these as -D macros."""
from __future__ import annotations

from typing import Dict, Tuple

from ..errors import KernelError
from .btf import STRUCT
from .tpbtf import kfunc_macros

# macro -> (struct, member path); pkt_type is special (a bitfield)
FIELDS = {
    "OFF_SKB_DEV": ("sk_buff", "dev"),
    "OFF_SKB_PROTOCOL": ("sk_buff", "protocol"),
    "OFF_SKB_NETWORK_HEADER": ("sk_buff", "network_header"),
    "OFF_SKB_MAC_HEADER": ("sk_buff", "mac_header"),
    "OFF_SKB_HEAD": ("sk_buff", "head"),
    "OFF_SKB_DATA": ("sk_buff", "data"),
    "OFF_SKB_LEN": ("sk_buff", "len"),
    "OFF_SKB_DATA_LEN": ("sk_buff", "data_len"),
    "OFF_DEV_IFINDEX": ("net_device", "ifindex"),
    "OFF_DEV_ND_NET": ("net_device", "nd_net"),
    "OFF_NET_INUM": ("net", "ns.inum"),
}


def struct_offsets(btf) -> Dict[str, int]:
    out = {macro: btf.field(s, path).byte_offset for macro, (s, path) in FIELDS.items()}
    pt = btf.field("sk_buff", "pkt_type")
    out["OFF_SKB_PKT_TYPE_BYTE"] = pt.bit_offset // 8
    out["PKT_TYPE_SHIFT"] = pt.bit_offset % 8
    out["PKT_TYPE_MASK"] = (1 << pt.bit_size) - 1
    skb = [(v, btf.field(*FIELDS[k]).byte_size) for k, v in out.items() if k.startswith("OFF_SKB_")
           and k != "OFF_SKB_PKT_TYPE_BYTE"] + [(out["OFF_SKB_PKT_TYPE_BYTE"], 1)]
    out["SKB_WIN_START"], out["SKB_WIN_LEN"] = window(skb)
    dev = [(out[k], btf.field(*FIELDS[k]).byte_size) for k in ("OFF_DEV_IFINDEX", "OFF_DEV_ND_NET")]
    out["DEV_WIN_START"], out["DEV_WIN_LEN"] = window(dev)
    return out


MAX_WINDOW = 256  # bytes of BPF stack one window may use (the stack is 512)


def window(fields) -> Tuple[int, int]:
    """The 8-byte aligned span covering [(offset, size)], read with one bpf_probe_read_kernel(); (0, 0) when the
    fields lie too far apart (6.1's net_device: ifindex and nd_net are 1 KiB apart): then each is read alone."""
    start = min(off for off, _ in fields) // 8 * 8
    end = max(off + size for off, size in fields)
    length = (end - start + 7) // 8 * 8
    if length > MAX_WINDOW:
        return 0, 0
    return start, length


def packet_types(btf) -> Dict[str, int]:
    """BTF ids of the header structs a tp_btf program casts packet bytes to (bpf_rdonly_cast), where the kernel
    has that kfunc: then the frame's destination is read with plain loads instead of bpf_probe_read_kernel."""
    out: Dict[str, int] = dict(kfunc_macros(btf))
    if "KFUNC_RDONLY_CAST" not in out:
        return {}
    for macro, name in (("BTF_ID_ETHHDR", "ethhdr"), ("BTF_ID_IPHDR", "iphdr"), ("BTF_ID_IPV6HDR", "ipv6hdr")):
        tid = btf.find(STRUCT, name)
        if tid is None:
            return {}
        out[macro] = tid
    return out


def kfree_skb_args(btf) -> Dict[str, int]:
    """Positions of the raw tracepoint's arguments (its TP_PROTO, read from BTF's btf_trace_kfree_skb)."""
    params = btf.typedef_proto_params("btf_trace_kfree_skb")
    if not params or len(params) < 3:
        raise KernelError("this kernel's BTF does not describe the skb:kfree_skb tracepoint",
                          "netdrop needs a kernel with the skb:kfree_skb tracepoint and BTF")
    args = params[1:]  # drop the leading `void *` context
    reason = next((i for i, t in enumerate(args) if t == "enum skb_drop_reason"), -1)
    return {"ARG_REASON": reason}


