"""No value is ever cut into something that reads as another valid value: tables wrap names and addresses whole,
the 80-column event line marks every cut with an ellipsis."""
import re

from rich.console import Console

from netdrop.model import DropRow
from netdrop.render.live import TopView, render_view
from netdrop.render.report import drops_table
from netdrop.render.stream import ELLIPSIS, EventRow, event_line

LONG = DropRow("netns-0f3a9c1e-5b2d-4c7e-9a1b-2d3e4f5a6b7c", "hid[bold]x-long-interface", "NOT_SPECIFIED",
               "ip_rcv_finish_core.constprop.0+0x25b", 123456, "OTHERHOST", "02:de:ad:be:ef:01",
               "fd00:200:1234:5678:9abc:def0:1234:5678", "02:25:ad:fa:a8:be", rate=12.5, last_seen=1.0)


def _render(renderable, width):
    c = Console(width=width, no_color=True, record=True, markup=False, highlight=False)
    c.print(renderable)
    return c.export_text()


def _columns(text, n):
    """The first n columns' cell texts, put back together from their wrapped lines. Column starts are where the
    header line with NETNS has its words (a wrapped header leaves its last part there)."""
    lines = [line for line in text.splitlines() if line.strip()]
    head = next(i for i, line in enumerate(lines) if line.startswith("NETNS"))
    starts = [m.start() for m in re.finditer(r"\S+", lines[head])][:n + 1]
    out = [""] * n
    for line in lines[head + 1:]:
        for i in range(n - 1):
            out[i] += line[starts[i]:starts[i + 1]].strip()
        # the last one ends at the next gap (the column after it may be right-aligned: its header marks no start)
        out[n - 1] += re.split(r"  +", line[starts[n - 1]:] + "  ", maxsplit=1)[0].strip()
    return out


def test_diagnose_table_wraps_names_whole_at_80_columns():
    text = _render(drops_table([LONG]), 80)
    assert all(len(line) <= 80 for line in text.splitlines())
    assert _columns(text, 4) == [LONG.netns, LONG.interface, LONG.reason, LONG.location]
    assert "123,456" in text


def test_top_view_wraps_names_whole_at_80_columns():
    view = TopView(rows=[LONG], total=LONG.count, rate=1.0, elapsed=3, kernel="6.18", hooks="skb:kfree_skb",
                   capabilities="reasons")
    text = _render(render_view(view), 80)
    assert all(len(line) <= 80 for line in text.splitlines())
    assert _columns(text, 4) == [LONG.netns, LONG.interface, LONG.reason, LONG.location]


def test_event_line_marks_every_cut_with_an_ellipsis():
    row = EventRow(time=1795559704.25, netns=LONG.netns, interface=LONG.interface, reason=LONG.reason,
                   location=LONG.location, pkt_type="HOST", protocol="udp", src_ip="10.200.0.1",
                   dst_ip="10.200.123.234", sport=40000, dport=9999, src_mac="02:4e:44:00:00:01",
                   dst_mac="02:25:ad:fa:a8:be", iface_mac=None, len=58)
    line = event_line(row, width=80).plain
    assert len(line) <= 80
    for value in (row.netns, row.interface, row.reason, row.location):
        # each value is there whole, or as a prefix that ends in the ellipsis: never a shorter valid-looking name
        assert value in line or re.search(re.escape(value[:3]) + r"[^ ]*" + ELLIPSIS, line), (value, line)
    assert "NOT_SPECIFIE " not in line and "hid[bold] " not in line
