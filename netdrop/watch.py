"""`netdrop watch`: every drop as it happens. Filters run in the kernel where they can; every drop the kernel counted
is accounted for at the end: printed + lost + sampled + filtered + not printed == counted."""
from __future__ import annotations

import ipaddress
import socket
import struct
import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

from .bpf.layout import DROP_EVENT

from .bpf.offsets import Filters, ProbeConfig
from .decode import decode_event, mac_bytes
from .enrich import Enricher
from .errors import UsageError
from .model import PACKET_TYPES, DropEvent
from .protocols import l4_number
from .net.links import HostFacts
from .net.namespaces import Registry
from .render.stream import EventRow
from .runtime import Runtime, reason_filter, resolve_scope

POLL_SECONDS = 0.05
MEMO_MAX = 4096  # distinct event contents remembered (Rows.from_raw)
# struct drop_event (bpf/layout.py): ts first, caplen at 38; the data after the header is valid up to caplen
EV_TS = struct.Struct("<Q")
EV_TS_END, EV_CAPLEN_AT = 8, 38
EV_CAPLEN = struct.Struct("<H")


@dataclass(frozen=True)
class WatchConfig:
    iface: Optional[str] = None
    netns: Optional[str] = None
    reason: Optional[str] = None
    proto: Optional[str] = None
    host: Optional[str] = None
    port: Optional[int] = None
    mac: Optional[str] = None
    count: int = 0
    duration: float = float("inf")
    stack: bool = False
    snaplen: int = 256
    budget: int = 100_000
    ready_file: Optional[str] = None
    pcap: Optional[str] = None
    debug: bool = False


def build_filters(cfg: WatchConfig, kernel, names: Registry, facts: HostFacts) -> Tuple[Filters, Callable]:
    """Kernel-side filters, and the user-space check for what the kernel cannot filter (an IPv6 --host)."""
    scope = resolve_scope(names, facts, cfg.netns, cfg.iface)
    f: Dict = reason_filter(kernel, cfg.reason)
    if cfg.proto:
        num = l4_number(cfg.proto)
        if num is None:
            raise UsageError(f"unknown protocol {cfg.proto!r}", "use tcp, udp, icmp, icmp6, sctp or a number")
        f["l4proto"] = num
    if cfg.port is not None:
        if not 0 < cfg.port < 65536:
            raise UsageError(f"port {cfg.port} is out of range", "give 1-65535")
        f["port"] = cfg.port
    user_check: Callable[[DropEvent], bool] = lambda e: True  # noqa: E731
    if cfg.host:
        try:
            addr = ipaddress.ip_address(cfg.host)
        except ValueError:
            raise UsageError(f"{cfg.host!r} is not an IP address", "e.g. --host 10.0.0.3") from None
        if addr.version == 4:
            # the program compares the address's bytes as read from the packet, i.e. a little-endian u32
            f["host4"] = int.from_bytes(socket.inet_aton(str(addr)), "little")
        else:
            want = str(addr)
            user_check = lambda e: want in (e.packet.src_ip, e.packet.dst_ip)  # noqa: E731
    if cfg.mac:
        try:
            f["mac"] = mac_bytes(cfg.mac)
        except ValueError:
            raise UsageError(f"{cfg.mac!r} is not a MAC address", "e.g. --mac 02:de:ad:be:ef:01") from None
    return scope.kernel_filters(**f), user_check


def probe_config(cfg: WatchConfig, filters: Filters) -> ProbeConfig:
    if cfg.snaplen % 8 or not 16 <= cfg.snaplen <= 1024:
        raise UsageError(f"--snaplen {cfg.snaplen} must be a multiple of 8 between 16 and 1024", "e.g. 256")
    if cfg.budget < 1:
        raise UsageError("--budget must be at least 1 event per second per CPU", "e.g. --budget 100000")
    if cfg.count < 0 or not cfg.duration > 0:
        raise UsageError("--count and --duration must be positive", "")
    # room for two budget windows of every CPU's events, in a power-of-two number of pages
    need = 2 * max(1, cfg.budget // 10) * (48 + cfg.snaplen) * 2
    pages = 64
    while pages * 4096 < need and pages < 4096:  # at most 16 MiB: beyond that, losses are counted, not buffered
        pages *= 2
    return ProbeConfig(event_budget=cfg.budget, ringbuf_pages=pages, snaplen=cfg.snaplen, with_stack=cfg.stack,
                       filters=filters)


class Rows:
    """DropEvent -> EventRow, with interface names re-read when an unknown one shows up (at most once a second)."""

    def __init__(self, kernel, enricher: Enricher, collector, stack: bool):
        self.kernel, self.names, self.col, self.stack = kernel, enricher.names, collector, stack
        self.enrich = enricher
        self.offset = time.time() - time.monotonic()  # bpf_ktime_get_ns() is CLOCK_MONOTONIC
        self.cache: Dict[tuple, tuple] = {}
        self.memo: Dict[bytes, tuple] = {}

    def tick(self) -> None:
        """Once per batch of events: names stay fresh (a namespace gone, an inode number reused)."""
        if self.enrich.revalidate():
            self.cache.clear()
            self.memo.clear()

    def _known(self, e: DropEvent) -> bool:
        """Whether the drop's namespace and interface have names (asks the enricher to look them up if not)."""
        if self.enrich.ensure(e.netns, e.ifindex):
            self.cache.clear()
        return self.names.known(e.netns) and (not e.ifindex or self.enrich.facts.get(e.netns, e.ifindex) is not None)

    def _names(self, e: DropEvent) -> tuple:
        """(netns, interface, reason, location, pkt_type, interface MAC), cached per place of drop."""
        key = (e.netns, e.ifindex, e.reason, e.pkt_type, e.location)
        hit = self.cache.get(key)
        if hit is None:
            known = self._known(e)
            en = self.enrich
            hit = (self.names.name(e.netns), en.interface(e.netns, e.ifindex), en.event_reason(e),
                   self.kernel.location(e.location), PACKET_TYPES.get(e.pkt_type, str(e.pkt_type)),
                   en.iface_mac(e.netns, e.ifindex))
            if len(self.cache) > 100_000:
                self.cache.clear()
            if known:  # unnamed ones are asked about again (rate-limited by the enricher)
                self.cache[key] = hit
        return hit

    def from_raw(self, raw: bytes, check: Callable[[DropEvent], bool]) -> Tuple[DropEvent, Optional[EventRow]]:
        """(event, its row, or None when `check` refuses it). An event whose content (all but its time)
        repeats an earlier one's reuses that one's decoding, names and JSON (EventRow.at): a flood repeats one
        frame, and decoding + naming + encoding it anew cost ~15 us of Python per event. Not with --stack (stack
        ids are reused by the kernel), nor while its place has no names yet (so that they are asked for again);
        tick() forgets them all when names change."""
        if self.stack:
            e = decode_event(raw)
            return e, self.row(e) if check(e) else None
        # everything after the time, up to the captured bytes' end (the CPU is in it: one entry per CPU)
        key = raw[EV_TS_END:DROP_EVENT.size + EV_CAPLEN.unpack_from(raw, EV_CAPLEN_AT)[0]]
        hit = self.memo.get(key)
        if hit is None:
            e = decode_event(raw)
            row = self.row(e) if check(e) else None
            if row is None or (e.netns, e.ifindex, e.reason, e.pkt_type, e.location) in self.cache:  # named
                if len(self.memo) >= MEMO_MAX:
                    self.memo.clear()
                self.memo[key] = (e, row)
            return e, row
        e, row = hit
        if row is None:
            return e, None
        return e, row.at(EV_TS.unpack_from(raw)[0] / 1e9 + self.offset)

    def row(self, e: DropEvent) -> EventRow:
        p = e.packet
        netns, iface, reason, location, pkt_type, iface_mac = self._names(e)
        return EventRow(
            time=e.ts_ns / 1e9 + self.offset, netns=netns, netns_id=e.netns, interface=iface, reason=reason,
            location=location, pkt_type=pkt_type, protocol=p.proto_name, src_ip=p.src_ip, dst_ip=p.dst_ip,
            sport=p.sport, dport=p.dport,
            src_mac=p.src_mac, dst_mac=p.dst_mac, iface_mac=iface_mac, len=e.frame_len,
            stack=self.col.stack(e.stack_id) if self.stack else None)


def watch(cfg: WatchConfig, kernel, collector_factory: Callable, emit: Callable[[EventRow], None],
          on_loss: Callable[[int, int], None] = lambda lost, sampled: None,
          on_ready: Callable[[], None] = lambda: None, on_batch: Callable[[], None] = lambda: None) -> Dict[str, int]:
    """Every drop, one emit(row) each; on_batch() after each batch drained from the ring buffer (and before each
    loss report), so an output can write a batch of lines at once."""
    names = Registry()
    facts = HostFacts.collect(names)
    filters, user_check = build_filters(cfg, kernel, names, facts)
    probe = probe_config(cfg, filters)
    pcap = None
    if cfg.pcap:
        from .pcap import DropPcap
        pcap = DropPcap(cfg.pcap, cfg.snaplen)
    n = {"printed": 0, "filtered": 0, "not_printed": 0}
    try:
        with Runtime(kernel, collector_factory, probe, debug=cfg.debug, names=names, ready_file=cfg.ready_file) as rt:
            col = rt.collector
            rows = Rows(kernel, rt.enricher, col, cfg.stack)

            def handle(raw: bytes) -> None:
                e, row = rows.from_raw(raw, user_check)
                if row is None:
                    n["filtered"] += 1
                elif cfg.count and n["printed"] >= cfg.count:
                    n["not_printed"] += 1
                else:
                    emit(row)
                    if pcap is not None:
                        pcap.write(e.data, e.frame_len, row.time, e.has_mac, e.protocol,
                                   f"netdrop: reason={row.reason} location={row.location} netns={row.netns} "
                                   f"interface={row.interface}")
                    n["printed"] += 1

            def drain() -> bool:
                batch = col.raw_events(max_events=20_000)
                if batch:
                    rows.tick()
                for raw in batch:
                    handle(raw)
                on_batch()
                return bool(batch)

            def done() -> bool:
                return bool(cfg.count and n["printed"] >= cfg.count)

            with rt.running(on_ready) as stop:
                reported = (0, 0)
                for _ in rt.ticks(stop, cfg.duration, 1.0, poll=drain, until=done, poll_seconds=POLL_SECONDS,
                                  discover=False):
                    st = col.stats()
                    if (st["lost"], st["sampled"]) != reported:
                        reported = (st["lost"], st["sampled"])
                        on_loss(*reported)
                rt.detach()  # stop counting, then account for everything already counted
                left = 0
                while True:  # what is still in the ring buffer: printed unless we are asked to stop
                    batch = col.raw_events()
                    if not batch:
                        break
                    for raw in batch:
                        if stop.is_set() or done():
                            left += 1
                        else:
                            handle(raw)
                    on_batch()
                n["not_printed"] += left
            st = col.stats()
    finally:
        if pcap is not None:
            pcap.close()
    return {"counted": st["counted"], "events": st["events"], "lost": st["lost"], "sampled": st["sampled"], **n}
