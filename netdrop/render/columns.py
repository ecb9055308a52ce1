"""Each column of a drop row, defined once: header, JSON key, width, alignment, formatter. Table, line and JSON
outputs all read this list."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from rich.console import JustifyMethod

from ..model import DropRow


def _rate(v: Optional[float]) -> str:
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e4:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}" if v >= 10 else f"{v:.1f}"


def _count(v: int) -> str:
    return f"{v:,}"


def _ago(v: Optional[float]) -> str:
    if v is None:
        return "-"
    return "now" if v < 1 else f"{v:.0f}s"


def _macs(row: DropRow) -> str:
    if not row.dst_mac:
        return ""
    return f"{row.daddr or '?'} to {row.dst_mac} (is {row.iface_mac or '?'})"


@dataclass(frozen=True)
class Column:
    key: str  # JSON key and sort name
    header: str
    width: int  # minimum width in tables
    justify: JustifyMethod
    get: Callable[[DropRow], Any]
    fmt: Callable[[Any], str] = str


COLUMNS = (
    Column("netns", "NETNS", 8, "left", lambda r: r.netns),
    Column("netns_id", "NETNS-ID", 10, "right", lambda r: r.netns_id),
    Column("interface", "IFACE", 6, "left", lambda r: r.interface),
    Column("reason", "REASON", 10, "left", lambda r: r.reason),
    Column("location", "LOCATION", 18, "left", lambda r: r.location),
    Column("count", "COUNT", 7, "right", lambda r: r.count, _count),
    Column("rate", "RATE/s", 7, "right", lambda r: r.rate, _rate),
    Column("share", "SHARE", 5, "right", lambda r: None),  # filled by the table builder (needs the total)
    Column("last_seen", "LAST", 4, "right", lambda r: r.last_seen, _ago),
    Column("mac", "WRONG-MAC DETAIL", 20, "left", _macs),
)
BY_KEY = {c.key: c for c in COLUMNS}
DIAGNOSE_COLUMNS = ("netns", "interface", "reason", "location", "count", "mac")
TOP_COLUMNS = ("netns", "interface", "reason", "location", "count", "rate", "share", "last_seen", "mac")


def wide(keys) -> tuple:
    """--wide: the namespace's inode right after its label."""
    return tuple(k for key in keys for k in ((key, "netns_id") if key == "netns" else (key,)))
