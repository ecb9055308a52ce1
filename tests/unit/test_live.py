import json

from rich.console import Console

from netdrop.model import DropRow
from netdrop.render.live import TopView, render_view, sort_rows, view_json

ROWS = [
    DropRow("ndlab-rx", "vB", "OTHERHOST", "ip_rcv_core+0x22c", 900, "OTHERHOST", "02:de:ad:be:ef:01", "10.200.0.3",
            "02:25:ad:fa:a8:be", rate=10.0, last_seen=0.2),
    DropRow("ndlab-rx", "vB", "NO_SOCKET", "__udp4_lib_rcv+0x4bc", 100, rate=50.0, last_seen=3.0),
    DropRow("host", "[bold]eth0", "IP_RPFILTER", "ip_rcv_finish_core+0x25b", 7, rate=0.0, last_seen=30.0),
]


def view(**kw):
    return TopView(rows=list(ROWS), total=1007, rate=60.0, elapsed=12, kernel="6.18", hooks="skb:kfree_skb",
                   capabilities="reasons: tracepoint format", **kw)


def text(v, width=160):
    c = Console(width=width, no_color=True, record=True, markup=False, highlight=False)
    c.print(render_view(v))
    return c.export_text()


def test_sorts():
    assert [r.reason for r in sort_rows(ROWS, "rate")] == ["NO_SOCKET", "OTHERHOST", "IP_RPFILTER"]
    assert [r.reason for r in sort_rows(ROWS, "count")] == ["OTHERHOST", "NO_SOCKET", "IP_RPFILTER"]
    assert [r.reason for r in sort_rows(ROWS, "reason")] == ["IP_RPFILTER", "NO_SOCKET", "OTHERHOST"]
    assert [r.interface for r in sort_rows(ROWS, "interface")][0] == "[bold]eth0"


def test_screen_has_header_rows_and_literal_names():
    out = text(view(sort="count"))
    lines = out.splitlines()
    assert lines[0].startswith("netdrop top") and "sort: count" in out
    body = [line for line in lines if "ndlab-rx" in line or "eth0" in line]
    assert [b.split()[2] for b in body] == ["OTHERHOST", "NO_SOCKET", "IP_RPFILTER"]
    assert "[bold]eth0" in out  # an interface name is never markup
    assert "10.200.0.3 to 02:de:ad:be:ef:01 (is 02:25:ad:fa:a8:be)" in out
    assert "89%" in out  # share of 900 in 1007
    assert max(len(line) for line in lines) <= 160


def test_filter_and_pause():
    out = text(view(filter_text="otherhost", paused=True))
    assert "NO_SOCKET" not in out and "OTHERHOST" in out and "PAUSED" in out and "filter: otherhost" in out


def test_json_uses_the_same_columns():
    d = json.loads(view_json(view(), 1.0, 1000.0))
    assert d["total"] == 1007 and d["interval"] == 1.0
    first = d["drops"][0]
    assert set(first) >= {"reason", "location", "interface", "netns", "count", "rate"}
    other = next(x for x in d["drops"] if x["reason"] == "OTHERHOST")
    assert other["seen_dst_mac"] == "02:de:ad:be:ef:01" and other["expected_mac"] == "02:25:ad:fa:a8:be"


def test_promisc_is_said_on_screen_and_in_json():
    assert "PROMISCUOUS" not in text(view())
    out = text(view(promisc=["[red]br0 (netns ndlab-rx)"]))
    assert "PROMISCUOUS while top runs: [red]br0 (netns ndlab-rx) (released on exit)" in out
    assert json.loads(view_json(view(promisc=["br0"]), 1.0, 0.0))["promisc"] == ["br0"]
    assert json.loads(view_json(view(), 1.0, 0.0))["promisc"] == []


def test_wide_view_adds_the_netns_id_column():
    rows = [DropRow("web (podman 73592c5a161c)", "eth0", "OTHERHOST", "ip_rcv_core+0x22c", 4, netns_id=4026532388)]
    out = render_text(TopView(rows=rows, total=4, rate=0.0, elapsed=1, kernel="6.18", hooks="h", capabilities="c",
                              wide=True))
    assert "NETNS-ID" in out and "4026532388" in out and "web (podman 73592c5a161c)" in out
    assert "NETNS-ID" not in render_text(TopView(rows=rows, total=4, rate=0.0, elapsed=1, kernel="6.18", hooks="h",
                                                 capabilities="c"))
    assert json.loads(view_json(TopView(rows=rows, total=4, rate=0.0, elapsed=1, kernel="6.18", hooks="h",
                                        capabilities="c"), 1.0, 0.0))["drops"][0]["netns_id"] == 4026532388


def render_text(v):
    c = Console(width=200, no_color=True, record=True)
    c.print(render_view(v))
    return c.export_text()
