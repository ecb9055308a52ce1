"""The kfree_skb program both ways it attaches (tp_btf with direct loads; the raw tracepoint fallback), and the
per-CPU pending-count slot: exact counts under a one-key flood and under two reasons interleaved drop by drop (a
slot move on every drop), against the frames sent and the kernel's rx_otherhost_dropped."""
import socket
import subprocess
import sys

import pytest

from netdrop import lab as L
from netdrop.bpf.offsets import ProbeConfig
from netdrop.collect import Collector
from netdrop.kernel.features import KernelInfo
from netdrop.kernel.tpbtf import probe
from netdrop.lab.traffic import udp_frame, wrong_mac_frame
from netdrop.net import netns
from netdrop.net.links import HostFacts

from ..conftest import HAS_COUNTER, counter, needs_fast_flood, needs_reasons

HOOKS = ("tp_btf", "raw_tracepoint")


@pytest.fixture(scope="module")
def kernel():
    return KernelInfo.load()


@pytest.fixture(params=HOOKS)
def collector(request, kernel, monkeypatch):
    """A Collector on the kfree_skb hook the test asks for; tp_btf is skipped only where the kernel refuses it."""
    if request.param == "tp_btf":
        ok, why = probe(kernel.btf)
        if not ok:
            pytest.skip(f"no tp_btf here: {why}")
        monkeypatch.delenv("NETDROP_KFREE_HOOK", raising=False)
    else:
        monkeypatch.setenv("NETDROP_KFREE_HOOK", "raw_tracepoint")
    with Collector(kernel, ProbeConfig(event_budget=0)) as col:
        assert col.hook == request.param
        assert col.hooks()[0]["type"] == request.param
        yield col


def rx_counts(col, kernel):
    """{reason name (or pkt_type where the kernel has no reasons): count} of the drops on the receiving veth."""
    ino = netns.named()[L.RX_NS]
    ifindex = HostFacts.collect(only=[L.RX_NS]).find_name(L.RX_IF, L.RX_NS)[0].ifindex
    out = {}
    for c in col.counts():
        if c.key.netns == ino and c.key.ifindex == ifindex:
            name = kernel.reasons.name(c.key.reason) if kernel.has_reasons else f"pkt_type {c.key.pkt_type}"
            out[name] = out.get(name, 0) + c.count
    return out


def otherhost():
    return HostFacts.collect(only=[L.RX_NS]).find_name(L.RX_IF, L.RX_NS)[0].rx_otherhost_dropped


def send_interleaved(pairs: int) -> None:
    """Wrong-MAC (OTHERHOST) and closed-port (NO_SOCKET) frames alternately, one by one, from one socket: every
    drop on the receiving CPU has another key than the one before."""
    a = wrong_mac_frame()
    b = udp_frame(L.RX_MAC, L.PRIMARY_IP, L.CLOSED_PORT)
    with netns.entered(L.TX_NS):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        sock.bind((L.TX_IF, 0))
    with sock:
        for _ in range(pairs):
            sock.send(a)
            sock.send(b)


@needs_reasons
def test_two_interleaved_reasons_are_counted_exactly(lab, collector, kernel):
    c0 = otherhost() if HAS_COUNTER else None
    send_interleaved(20_000)
    collector.detach()
    got = rx_counts(collector, kernel)
    assert got.get("OTHERHOST") == 20_000
    assert got.get("NO_SOCKET") == 20_000
    if HAS_COUNTER:
        assert otherhost() - c0 == counter(20_000)


@needs_fast_flood
def test_flood_counts_are_exact_and_never_go_back(lab, collector, kernel):
    """One key drop after drop (the slot's fast path); counts read while the flood runs never decrease, and the
    final count is the kernel's."""
    c0 = otherhost() if HAS_COUNTER else None
    flood = subprocess.Popen([sys.executable, "-m", "netdrop", "lab", "flood", "--seconds", "1.5"],
                             stdout=subprocess.PIPE, text=True)
    key = "OTHERHOST" if kernel.has_reasons else "pkt_type 3"
    seen = []
    while flood.poll() is None:
        seen.append(rx_counts(collector, kernel).get(key, 0))
    sent = int(flood.communicate()[0].split()[1])  # "sent N frames (...)"
    collector.detach()
    final = rx_counts(collector, kernel).get(key, 0)
    assert len(seen) > 3 and seen == sorted(seen), "a count read during the flood went back"
    assert final == sent
    if HAS_COUNTER:
        assert otherhost() - c0 == final


def test_warm_start_comes_from_the_compile_cache_and_survives_corruption(lab, kernel, tmp_path, monkeypatch):
    if not probe(kernel.btf)[0]:
        pytest.skip("the cache holds tp_btf programs only")
    monkeypatch.delenv("NETDROP_KFREE_HOOK", raising=False)
    monkeypatch.setenv("NETDROP_CACHE_DIR", str(tmp_path))
    for expect_cached in (False, True, "corrupt"):
        if expect_cached == "corrupt":
            for p in tmp_path.glob("*.json"):
                p.write_text(p.read_text()[:100])
        with Collector(kernel, ProbeConfig()) as col:
            assert col.hook == "tp_btf"
            assert col.session.from_cache is (expect_cached is True)
            lab.send(5, "wrong-mac")
            col.detach()
            got = rx_counts(col, kernel)
            assert got.get("OTHERHOST" if kernel.has_reasons else "pkt_type 3") == 5
            assert col.stats()["events"] >= 5  # the ring buffer and its maps came out of the cache too
        assert len(list(tmp_path.glob("*.json"))) == 1
