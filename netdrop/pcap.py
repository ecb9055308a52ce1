"""Dropped frames to a pcapng file (dpkt's writer), with a comment on every packet carrying the drop's reason,
location, netns and interface (Wireshark and tshark show it as frame.comment; tcpdump -r reads the frames).

One Ethernet interface only: libpcap (tcpdump) refuses files that mix link types, so a frame dropped before it had
a MAC header (e.g. locally generated) gets a zeroed Ethernet header with its ethertype, said so in its comment."""
from __future__ import annotations

from typing import BinaryIO, Optional

import dpkt
from dpkt import pcapng

from .errors import UsageError

OPT_COMMENT, OPT_ENDOFOPT = 1, 0


class DropPcap:
    def __init__(self, path: str, snaplen: int):
        try:
            self._f: Optional[BinaryIO] = open(path, "wb")
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror}", "give a writable --pcap path") from None
        idb = pcapng.InterfaceDescriptionBlockLE(snaplen=snaplen + 14, linktype=dpkt.pcap.DLT_EN10MB)
        self._w = pcapng.Writer(self._f, snaplen=snaplen + 14, idb=idb)
        self.written = 0

    def write(self, data: bytes, orig_len: int, ts: float, has_mac: bool, ethertype: int, comment: str) -> None:
        if not has_mac:
            data = b"\0" * 12 + (ethertype or 0).to_bytes(2, "big") + data
            orig_len += 14
            comment += " (no MAC header when dropped: zeroed Ethernet header added)"
        opts = [pcapng.PcapngOptionLE(code=OPT_COMMENT, text=comment), pcapng.PcapngOptionLE(code=OPT_ENDOFOPT)]
        epb = pcapng.EnhancedPacketBlockLE(iface_id=0, pkt_data=data, pkt_len=max(orig_len, len(data)), opts=opts)
        self._w.writepkt(epb, ts=ts)
        self.written += 1

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
