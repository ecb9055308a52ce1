"""The lab shows the same thing whatever the host's own settings: run every scenario as the host is, and again on a
host set up like one that runs containers (ip_forward=1, rp_filter=1; restored afterwards, even on failure)."""
import subprocess

import pytest

from netdrop import lab as L
from netdrop.errors import HostError

from ..conftest import HAS_REASONS, diagnose_report, host_only, needs_reasons
from ..hostsysctl import container_host



def test_every_scenario_says_what_it_shows():
    for record in L.REGISTRY.values():
        assert record.traffic and record.description, record.name
        assert set(k for k, _ in record.traffic) <= set(L.TRAFFIC_KINDS), record.name


@pytest.fixture(params=["host-as-is", "container-host"])
def host_state(request):
    if request.param == "host-as-is":
        yield request.param
        return
    with container_host():
        yield request.param


def _diagnose_in_process(send, netns=L.RX_NS):
    """diagnose on one lab namespace, in this process: the traffic goes out once the probe is attached."""
    from netdrop.collect import Collector
    from netdrop.diagnose.run import DiagnoseConfig, diagnose
    from netdrop.kernel.features import KernelInfo
    cfg = DiagnoseConfig(netns=netns, duration=1.0)
    return diagnose(cfg, KernelInfo.load(), Collector, on_ready=lambda held: send())


def _run(name):
    record = L.REGISTRY[name]
    expected = dict(record.causes)
    if not HAS_REASONS:  # 5.10: only the wrong-MAC drop is attributed (by location + pkt_type)
        expected = {c: n for c, n in expected.items() if c == "mac-mismatch"}
    L.up(name)
    try:
        report = _diagnose_in_process(lambda: [L.send(n, kind) for kind, n in record.traffic], record.netns)
    finally:
        L.down()
    found = {}
    for f in report.findings:
        found[f.cause] = found.get(f.cause, 0) + f.count
    assert set(found) == set(expected), (name, [f.to_dict() for f in report.findings])
    for cause, n in expected.items():
        assert (found[cause] > 0) if n is None else (found[cause] == n), (name, cause, found)
    return report


@host_only  # the host's sysctls; in the guests test_causes runs each scenario
def test_every_scenario_whatever_the_host(host_state):
    unsupported = []
    for name, record in L.REGISTRY.items():
        try:
            report = _run(name)
        except HostError as exc:  # a scenario this kernel cannot build (no 802.1Q here): said, not a pass
            assert record.needs and exc.hint == record.needs, (name, exc.message)
            unsupported.append(name)
            continue
        if host_state == "host-as-is":
            assert_trustworthy(name, report)
    if unsupported:
        print(f"scenarios this kernel cannot build: {unsupported}")
    assert len(unsupported) < len(L.REGISTRY) // 2


# Fields every finding of these causes must have (never null): the rest may be null where they do not apply.
REQUIRED = ("cause", "title", "explanation", "fix", "interface", "netns", "count", "evidence")
REQUIRED_BY_CAUSE = {"mac-mismatch": ("ip", "seen_dst_mac", "expected_mac", "location", "mac_cause"),
                     "not-local": ("ip", "ip_forward", "reason"), "unresolved-neighbour": ("ip", "reason"),
                     "rp-filter": ("ip", "rp_filter", "source"), "netfilter-drop": ("ip", "port"),
                     "no-socket": ("ip", "port", "protocol"), "rcvbuf-full": ("ip", "port", "process"),
                     "backlog-full": ("netdev_max_backlog",)}


def _nulls(v, path="$"):
    """Paths of JSON nulls, and of strings that say "None"."""
    if v is None:
        return [path]
    if isinstance(v, dict):
        return [p for k, x in v.items() for p in _nulls(x, f"{path}.{k}")]
    if isinstance(v, list):
        return [p for i, x in enumerate(v) for p in _nulls(x, f"{path}[{i}]")]
    return [path] if isinstance(v, str) and "None" in v else []


def assert_trustworthy(name, report):
    """What a person reads: no Python None in text at 80 or 200 columns, no null anywhere in the JSON, the fields
    each cause promises, no ARP wording in an IPv6 finding."""
    import io
    import json

    from rich.console import Console

    from netdrop.render.report import render_report, report_json
    for width in (80, 200):
        out = io.StringIO()
        Console(file=out, width=width, no_color=True, markup=False, highlight=False).print(render_report(report))
        assert "None" not in out.getvalue(), (name, width, out.getvalue())
    doc = json.loads(report_json(report))
    assert not _nulls(doc), (name, _nulls(doc))  # schema 2: a fact that cannot be read is left out and said why
    for f in doc["findings"]:
        assert f["netns_id"] > 0
        for key in REQUIRED + REQUIRED_BY_CAUSE.get(f["cause"], ()):
            assert f.get(key) is not None, (name, f["cause"], key, f)
        words = " ".join([f["title"], f["explanation"], f["fix"], *f["evidence"]])
        assert "None" not in words, (name, f)
        if f.get("ip") and ":" in f["ip"]:
            assert "ARP" not in words and "arp_" not in words, (name, f)


@needs_reasons  # NEIGH_FAILED and IP_INNOROUTES are drop reasons
def test_a_forwarding_receiver(background):
    """What a forwarding host does with packets for an address it neither has nor routes, and what netdrop says:
    on-link but nobody answers ARP -> NEIGH_FAILED on the way out; no route at all -> IP_INNOROUTES."""
    L.up("forwarding")
    try:
        report = diagnose_report(background, lambda: (L.send(4, "not-local"), L.send(3, "no-route")),
                                 "--netns", L.RX_NS)
        by_cause = {f["cause"]: f for f in report["findings"]}
        neigh, route = by_cause["unresolved-neighbour"], by_cause["not-local"]
        assert (neigh["count"], neigh["ip"], neigh["reason"]) == (4, L.NOT_LOCAL_IP, "NEIGH_FAILED")
        assert neigh["forwarded"] is True and neigh["ip_forward"] == "1" and neigh["sender_ip"] == L.SENDER_IP
        assert any(e.startswith("dropped at neigh_invalidate") for e in neigh["evidence"])
        assert "ARP" in neigh["title"] and "forwards (net.ipv4.ip_forward=1)" in neigh["explanation"]
        assert (route["count"], route["ip"], route["reason"], route["ip_forward"]) == (3, L.NO_ROUTE_IP,
                                                                                       "IP_INNOROUTES", "1")
        assert f"has no route to {L.NO_ROUTE_IP}" in route["explanation"]
        # the fix runs as printed: with the address configured, the packets are delivered (and find no socket)
        fix = f"ip -n {L.RX_NS} addr add {L.NOT_LOCAL_IP}/{L.PREFIXLEN} dev {L.RX_IF}"
        assert f"`{fix}`" in neigh["fix"]
        subprocess.run(fix.split(), check=True)
        after = diagnose_report(background, lambda: L.send(4, "not-local"), "--netns", L.RX_NS)
        assert {f["cause"]: f["count"] for f in after["findings"]} == {"no-socket": 4}
    finally:
        L.down()


@needs_reasons  # IP_INADDRERRORS is a drop reason
def test_a_macvlan_child_in_another_namespace_names_the_senders_entry():
    """The address lives on the parent; the sender's static entry points at the child's MAC. Configuring the address
    on the child (what a naive not-local fix says) would duplicate it: the fix is the sender's entry."""
    L.up("macvlan-netns")
    try:
        report = _diagnose_in_process(lambda: L.send(3, "wrong-mac"), L.MV_NS)
    finally:
        L.down()
    (f,) = report.findings
    assert (f.cause, f.count, f.interface, f.ip) == ("not-local", 3, "mv1", L.SECONDARY_IP)
    assert f.extra["owner"] == {"netns": L.RX_NS, "interface": L.RX_IF, "mac": L.RX_MAC}
    assert f"neigh replace {L.SECONDARY_IP} lladdr {L.RX_MAC} dev {L.TX_IF}" in f.fix
    assert "addr add" not in f.fix


def test_ipv6_disabled_and_its_fix():
    """The cause added as the example of issue 16: found with its exact count, and its fix, run as printed, ends it."""
    L.up("ipv6-disabled")
    try:
        report = _diagnose_in_process(lambda: L.send(4, "closed-port6"))
        (f,) = report.findings
        assert (f.cause, f.count, f.interface, f.extra["disable_ipv6"]) == ("ipv6-disabled", 4, L.RX_IF, "1")
        fix = f"ip netns exec {L.RX_NS} sysctl -w net.ipv6.conf.{L.RX_IF}.disable_ipv6=0"
        assert f"`{fix}`" in f.fix
        subprocess.run(fix.split(), check=True, capture_output=True)
        after = _diagnose_in_process(lambda: L.send(4, "closed-port6"))
        assert "ipv6-disabled" not in [x.cause for x in after.findings]
    finally:
        L.down()
