import json

from rich.console import Console

from netdrop.render.stream import EventRow, event_line, summary_text

BASE = dict(time=1795559704.25, netns="ndlab-rx", interface="vB", reason="OTHERHOST", location="ip_rcv_core+0x22c",
            pkt_type="OTHERHOST", protocol="udp", src_ip="10.200.0.1", dst_ip="10.200.0.3", sport=40000, dport=9999,
            src_mac="02:4e:44:00:00:01", dst_mac="02:de:ad:be:ef:01", iface_mac="02:25:ad:fa:a8:be", len=58)


def render(text, width=200):
    c = Console(width=width, no_color=True, record=True, markup=False, highlight=False)
    c.print(text)
    return c.export_text()


def test_narrow_line_fits_80_columns_and_shows_the_wrong_mac():
    line = event_line(EventRow(**BASE), width=80).plain
    assert len(line) <= 80
    assert "OTHERHOST" in line and "ip_rcv_core+0x22c" in line and "02:de:ad:be:ef:01" in line


def test_a_wider_terminal_shows_whole_reasons_and_addresses():
    row = EventRow(**dict(BASE, pkt_type="HOST", reason="IP_INADDRERRORS", location="ip_error+0x94",
                          src_ip="10.200.0.1", dst_ip="10.200.0.9", dport=9999))
    narrow = event_line(row, width=80).plain
    assert len(narrow) <= 80 and "IP_INADDRERRORS" not in narrow
    line = event_line(row, width=120).plain
    assert len(line) <= 120 and "IP_INADDRERRORS" in line and line.endswith("10.200.0.1>10.200.0.9:9999")
    other = event_line(EventRow(**dict(BASE, reason="NO_SOCKET")), width=120).plain
    assert line.index("ip_error") == other.index("ip_rcv_core")  # columns stay aligned from line to line


def test_wide_line_has_everything():
    line = event_line(EventRow(**BASE), wide=True).plain
    for part in ("10.200.0.1:40000 > 10.200.0.3:9999", "dst MAC 02:de:ad:be:ef:01 (is 02:25:ad:fa:a8:be)",
                 "ndlab-rx", "vB"):
        assert part in line


def test_ipv6_endpoints_are_bracketed():
    row = EventRow(**dict(BASE, pkt_type="HOST", reason="NO_SOCKET", src_ip="fd00:200::1", dst_ip="fd00:200::2",
                          dport=9))
    assert "[fd00:200::1]:40000 > [fd00:200::2]:9" in event_line(row, wide=True).plain


def test_interface_names_are_never_markup():
    row = EventRow(**dict(BASE, interface="[bold red]x"))
    assert "[bold red]x" in render(event_line(row, wide=True))
    assert "[b]x" in render(event_line(EventRow(**dict(BASE, interface="[b]x")), width=80))


def test_stack_lines_follow_the_event():
    row = EventRow(**dict(BASE, stack=["kfree_skb_reason+0x10", "ip_rcv_core+0x22c"]))
    text = event_line(row, width=80).plain.splitlines()
    assert text[1:] == ["    kfree_skb_reason+0x10", "    ip_rcv_core+0x22c"]


def test_json_schema():
    d = json.loads(EventRow(**BASE).to_json())
    assert d["type"] == "drop" and "stack" not in d
    assert {k: d[k] for k in ("reason", "dst_mac", "iface_mac", "dport")} == {
        "reason": "OTHERHOST", "dst_mac": "02:de:ad:be:ef:01", "iface_mac": "02:25:ad:fa:a8:be", "dport": 9999}


def test_summary_text_names_every_bucket():
    s = summary_text({"counted": 10, "printed": 5, "lost": 1, "sampled": 2, "filtered": 1, "not_printed": 1})
    assert s.startswith("10 drops counted") and "1 lost" in s and "2 sampled away" in s


def test_a_row_at_another_time_encodes_like_a_new_row():
    """watch reuses a repeated drop's encoded fields (EventRow.at): the line must be what a fresh row gives."""
    first = EventRow(**BASE)
    again = first.at(BASE["time"] + 1.2345678)
    fresh = EventRow(**dict(BASE, time=BASE["time"] + 1.2345678))
    assert again == fresh
    assert json.loads(again.to_json()) == json.loads(fresh.to_json())
    assert again.to_json() == fresh.to_json()
    assert json.loads(first.to_json())["time"] == round(BASE["time"], 6)  # the original keeps its own time
    stacked = EventRow(**dict(BASE, stack=["a+0x1"])).at(5.0)
    assert json.loads(stacked.to_json())["stack"] == ["a+0x1"]


def test_wide_line_shows_the_namespace_inode_and_json_always_has_it():
    row = EventRow(**dict(BASE, netns="pid 4242 (nginx)", netns_id=4026532999))
    assert "pid 4242 (nginx)[4026532999] vB OTHERHOST" in event_line(row, wide=True).plain
    assert json.loads(row.to_json())["netns_id"] == 4026532999
