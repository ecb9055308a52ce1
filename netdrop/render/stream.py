"""One dropped packet per line (`netdrop watch`), as text or JSON lines. Pure: tested without a kernel."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import List, Optional

from rich.text import Text

from .text import plain


@dataclass(frozen=True)
class EventRow:
    """A drop event with names resolved; its fields are the JSON schema of `watch --json` (docs/watch.md)."""

    time: float
    netns: str
    interface: str
    reason: str
    location: str
    pkt_type: str
    protocol: str
    src_ip: Optional[str]
    dst_ip: Optional[str]
    sport: Optional[int]
    dport: Optional[int]
    src_mac: Optional[str]
    dst_mac: Optional[str]
    iface_mac: Optional[str]
    len: int
    stack: Optional[List[str]] = None
    netns_id: int = 0  # the namespace's inode

    def to_json(self) -> str:
        rest = self.__dict__.get("_json_rest") or self._json_rest()
        return '{"type": "drop", "time": ' + repr(round(self.time, 6)) + rest  # json.dumps writes floats by repr

    def _json_rest(self) -> str:
        """The JSON object's text after the time: every field but the time (flat: no asdict() deep copy)."""
        d = {k: v for k, v in self.__dict__.items() if k != "time" and k[0] != "_"}
        if self.stack is None:
            del d["stack"]
        return ", " + json.dumps(d)[1:]

    def at(self, when: float) -> "EventRow":
        """This row at another time: the same drop seen again (watch under a flood). Cheap, and its JSON reuses
        this row's encoded fields (kept beside them in __dict__, outside the dataclass's fields)."""
        if "_json_rest" not in self.__dict__:
            self.__dict__["_json_rest"] = self._json_rest()
        new = object.__new__(EventRow)
        new.__dict__.update(self.__dict__)
        new.__dict__["time"] = when
        return new


def _ep(ip: Optional[str], port: Optional[int]) -> str:
    if ip is None:
        return "?"
    host = f"[{ip}]" if ":" in ip and port is not None else ip
    return f"{host}:{port}" if port is not None else host


ELLIPSIS = "\u2026"  # what marks a cut value: never "~" or nothing, which can read as another valid value


def _fit(s: str, width: int) -> str:
    return s if len(s) <= width else s[: max(1, width - 1)] + ELLIPSIS


# (field, width) of the 80-column line; the addresses after them take what is left
NARROW = (("time", 8), ("netns", 8), ("interface", 5), ("reason", 10), ("location", 17), ("protocol", 3))
# a wider terminal first lets these columns grow (by at most this much, in this order), then the addresses
GROW = (("reason", 8), ("interface", 5), ("location", 9))


@lru_cache(maxsize=8)
def narrow_columns(width: int):
    """The fixed columns for a line of `width`: the same for every line of a run, so they stay aligned (and
    computed once per width, not once per event)."""
    widths = dict(NARROW)
    spare = max(0, width - 80)
    for key, most in GROW:
        add = min(most, spare)
        widths[key] += add
        spare -= add
    return tuple((k, widths[k]) for k, _ in NARROW)


def event_line(r: EventRow, width: int = 80, wide: bool = False) -> Text:
    clock = time.strftime("%H:%M:%S", time.localtime(r.time))
    otherhost = r.pkt_type == "OTHERHOST" and r.dst_mac
    if wide:
        flow = f"{_ep(r.src_ip, r.sport)} > {_ep(r.dst_ip, r.dport)}"
        if otherhost:
            flow += f" dst MAC {r.dst_mac} (is {r.iface_mac or '?'})"
    elif otherhost:  # 80 columns: the wrong MAC is the news, then whom it was meant for
        flow = f"{r.dst_mac} {r.dst_ip or ''}"
    else:
        flow = f"{r.src_ip or '?'}>{_ep(r.dst_ip, r.dport)}"
    if wide:
        fields = [f"{clock}.{int(r.time * 1000) % 1000:03d}", f"{r.netns}[{r.netns_id}]", r.interface, r.reason,
                  r.location, r.protocol, flow]
        line = " ".join(fields)
        if r.src_mac and r.pkt_type != "OTHERHOST":
            line += f" {r.src_mac} > {r.dst_mac}"
        out = Text()
        out.append_text(plain(line, "red" if r.pkt_type == "OTHERHOST" else ""))
        if r.stack:
            for frame in r.stack:
                out.append("\n")
                out.append_text(plain(f"    {frame}", "dim"))
        return out
    values = {"time": clock, "netns": r.netns, "interface": r.interface, "reason": r.reason,
              "location": r.location, "protocol": r.protocol}
    columns = narrow_columns(width)
    parts = [_fit(values[k], w).ljust(w) for k, w in columns]
    used = sum(w for _, w in columns) + len(columns)
    line = " ".join(parts) + " " + _fit(flow, max(8, width - used))
    out = plain(line, "red" if r.pkt_type == "OTHERHOST" else "")
    if r.stack:
        for frame in r.stack:
            out.append("\n")
            out.append_text(plain(f"    {_fit(frame, width - 4)}", "dim"))
    return out


def loss_json(lost: int, sampled: int) -> str:
    return json.dumps({"type": "loss", "time": round(time.time(), 6), "lost": lost, "sampled": sampled})


def summary_json(s: dict) -> str:
    return json.dumps({"type": "summary", **s})


def summary_text(s: dict) -> str:
    return (f"{s['counted']} drops counted in the kernel: {s['printed']} printed, {s['lost']} lost (ring buffer "
            f"full), {s['sampled']} sampled away (over --budget), {s['filtered']} filtered out in user space, "
            f"{s['not_printed']} not printed (after --count)")
