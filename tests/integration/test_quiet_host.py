"""No false findings: while namespaces and interfaces come and go (IPv6 on, as on any host: MLD reports, neighbour
solicitations, DAD) and ordinary correct traffic flows (IPv4 and IPv6, TCP and UDP, to listeners), diagnose finds
nothing to explain in them."""
import socket
import subprocess
import threading

from netdrop import lab as L
from netdrop.net import netns

from ..conftest import diagnose_report

A, B, C = L.PREFIX + "qa", L.PREFIX + "qb", L.PREFIX + "qc"  # lab-prefixed: `lab down` removes them whatever happens
ADDRS = {A: ("10.210.0.1", "fd00:210::1"), B: ("10.210.0.2", "fd00:210::2")}
PORT = 7100


def ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True)


def pair(left, right, v4=None, v6=None):
    """Two namespaces joined by a veth pair, IPv6 as a stock host has it (autoconfiguration, DAD, MLD)."""
    for ns in (left, right):
        ip("netns", "add", ns)
        ip("-n", ns, "link", "set", "lo", "up")
        L.set_sysctls(ns, {"net/ipv6/conf/all/disable_ipv6": "0", "net/ipv6/conf/default/disable_ipv6": "0"})
    ip("-n", left, "link", "add", "q0", "type", "veth", "peer", "name", "q1", "netns", right)
    for ns, dev in ((left, "q0"), (right, "q1")):
        if v4:
            ip("-n", ns, "addr", "add", f"{ADDRS[ns][0]}/24", "dev", dev)
            ip("-n", ns, "addr", "add", f"{ADDRS[ns][1]}/64", "dev", dev, "nodad")
        ip("-n", ns, "link", "set", dev, "up")


def serve(stop: threading.Event, ready: threading.Event):
    """TCP and UDP listeners on both families in B, answering until stopped."""
    socks = []
    with netns.entered(B):
        for fam, addr in ((socket.AF_INET, ADDRS[B][0]), (socket.AF_INET6, ADDRS[B][1])):
            t = socket.socket(fam, socket.SOCK_STREAM)
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            t.bind((addr, PORT))
            t.listen(16)
            u = socket.socket(fam, socket.SOCK_DGRAM)
            u.bind((addr, PORT))
            socks += [t, u]
    for s in socks:
        s.settimeout(0.05)
    ready.set()
    while not stop.is_set():
        for s in socks:
            try:
                if s.type == socket.SOCK_STREAM:
                    c, _ = s.accept()
                    with c:
                        c.sendall(c.recv(64))
                else:
                    s.recv(64)
            except OSError:
                continue
    for s in socks:
        s.close()


def talk():
    """From A: TCP exchanges and UDP datagrams to B's listeners, IPv4 and IPv6."""
    with netns.entered(A):
        for fam, addr in ((socket.AF_INET, ADDRS[B][0]), (socket.AF_INET6, ADDRS[B][1])):
            for i in range(5):
                with socket.create_connection((addr, PORT), timeout=5) as c:
                    c.sendall(b"hello %d" % i)
                    assert c.recv(64) == b"hello %d" % i
                with socket.socket(fam, socket.SOCK_DGRAM) as u:
                    u.sendto(b"datagram", (addr, PORT))


def test_no_finding_while_interfaces_come_and_go_and_traffic_is_correct(background):
    L.down()
    stop, ready = threading.Event(), threading.Event()
    try:
        pair(A, B, v4=True)
        server = threading.Thread(target=serve, args=(stop, ready))
        server.start()
        assert ready.wait(10)

        def churn():
            talk()
            pair(C, L.PREFIX + "qd")  # new interfaces coming up mid-window: MLD, NS, DAD
            talk()
            ip("netns", "del", L.PREFIX + "qd")  # and going away
            ip("-n", C, "link", "add", "q9", "type", "veth", "peer", "name", "q8")
            ip("-n", C, "link", "set", "q8", "up")
            ip("-n", C, "link", "set", "q9", "up")
            talk()

        report = diagnose_report(background, churn, duration="4")
    finally:
        stop.set()
        if "server" in locals():
            server.join()
        L.down()
    ours = {A, B, C, L.PREFIX + "qd"}
    false = [f for f in report["findings"] if f["netns"] in ours]
    assert not false, false
