"""`netdrop top`'s screen, as a pure function of a snapshot (no I/O, no clock): header + table."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from rich.console import Group
from rich.text import Text

from ..model import DropRow
from .columns import TOP_COLUMNS, _rate, wide
from .report import drops_table
from .text import plain

SORTS = ("rate", "count", "reason", "interface")


@dataclass
class TopView:
    """Everything one refresh shows."""

    rows: List[DropRow]
    total: int
    rate: float
    elapsed: float
    kernel: str
    hooks: str
    capabilities: str
    map_full: int = 0
    sort: str = "rate"
    filter_text: str = ""
    paused: bool = False
    prompt: Optional[str] = None  # the filter being typed after "/"
    interactive: bool = False  # show the key help
    promisc: List[str] = field(default_factory=list)  # interfaces top holds promiscuous (--promisc)
    wide: bool = False  # --wide: the NETNS-ID column
    extra: Dict = field(default_factory=dict)


def sort_rows(rows: List[DropRow], sort: str) -> List[DropRow]:
    if sort == "rate":
        return sorted(rows, key=lambda r: (-(r.rate or 0.0), -r.count, r.reason))
    if sort == "count":
        return sorted(rows, key=lambda r: (-r.count, r.reason))
    if sort == "reason":
        return sorted(rows, key=lambda r: (r.reason, -r.count))
    return sorted(rows, key=lambda r: (r.netns, r.interface, -r.count))


def matches(row: DropRow, text: str) -> bool:
    if not text:
        return True
    t = text.lower()
    return any(t in (v or "").lower() for v in (row.netns, row.interface, row.reason, row.location))


def visible(view: TopView) -> List[DropRow]:
    return sort_rows([r for r in view.rows if matches(r, view.filter_text)], view.sort)


def header(view: TopView) -> Text:
    t = Text()
    t.append("netdrop top", "bold")
    t.append(f"  kernel {view.kernel}  up {view.elapsed:.0f}s  ")
    t.append_text(plain(f"hooks: {view.hooks}"))
    if view.promisc:
        t.append("\n")
        t.append_text(plain(f"PROMISCUOUS while top runs: {', '.join(view.promisc)} (released on exit)", "bold yellow"))
    t.append("\n")
    t.append(f"drops {view.total:,}  ", "bold")
    t.append(f"rate {_rate(view.rate)}/s  ", "bold red" if view.rate else "bold")
    t.append(f"keys not counted (map full) {view.map_full}  ", "yellow" if view.map_full else "")
    t.append_text(plain(view.capabilities, "dim"))
    t.append("\n")
    t.append(f"sort: {view.sort}", "cyan")
    if view.filter_text:
        t.append("  filter: ", "cyan")
        t.append_text(plain(view.filter_text, "cyan"))
    if view.paused:
        t.append("  PAUSED", "bold yellow")
    if view.prompt is not None:
        t.append("  /")
        t.append_text(plain(view.prompt))
        t.append("_", "blink")
    elif view.interactive:
        t.append("   q quit  s sort  p pause  r reset  / filter", "dim")
    return t


def render_view(view: TopView) -> Group:
    rows = visible(view)
    table = drops_table(rows, wide(TOP_COLUMNS) if view.wide else TOP_COLUMNS, total=sum(r.count for r in rows))
    if not rows:
        return Group(header(view), Text(""), Text("no drops yet", "dim"))
    return Group(header(view), Text(""), table)


def view_json(view: TopView, interval: float, at: float) -> str:
    rows = visible(view)
    return json.dumps({"time": round(at, 3), "interval": interval, "elapsed": round(view.elapsed, 3),
                       "total": view.total, "rate": round(view.rate, 1), "map_full": view.map_full,
                       "hooks": view.hooks, "promisc": view.promisc, "drops": [r.to_dict() for r in rows]})
