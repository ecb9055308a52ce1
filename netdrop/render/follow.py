"""Lines of `diagnose --follow`: one per change (found, grew, returned, resolved), as text or JSON lines."""
from __future__ import annotations

import json
import sys
import time
from typing import Callable, Dict

from rich.text import Text

from ..model import Finding
from .text import plain

STYLE = {"found": "bold red", "grew": "red", "returned": "bold red", "resolved": "bold green", "quiet": "yellow"}


def follow_line(kind: str, f: Finding, detail: Dict, at: float) -> Text:
    stamp = time.strftime("%H:%M:%S", time.localtime(at))
    t = Text(f"{stamp} ")
    t.append(f"{kind.upper():9}", STYLE.get(kind, ""))
    where = f"{f.ip or '-'} on {f.interface or '-'} (netns {f.netns})"
    if kind == "found":
        t.append_text(plain(f"{f.cause}: {f.title}. Fix: {f.fix}"))
    elif kind in ("grew", "returned"):
        t.append_text(plain(f"{f.cause} for {where}: +{detail['new']}, {f.count} in all"))
    elif kind == "resolved":
        t.append_text(plain(f"{f.cause} for {where}: no such drop for {detail['quiet_seconds']:g} s and "
                            f"{detail['evidence']}: the cause is gone"))
    else:  # quiet: no drop, but nothing proves the fix either
        got = detail.get("received_since")
        rx = f" ({f.interface} received {got} packets, none seen for {f.ip})" if got and f.ip else ""
        t.append_text(plain(f"{f.cause} for {where}: quiet for {detail['quiet_seconds']:g} s, not yet confirmed: "
                            f"no traffic for {f.ip or 'the address'} was seen arriving{rx}"))
    return t


def follow_json(kind: str, f: Finding, detail: Dict, at: float) -> str:
    return json.dumps({"type": kind, "time": round(at, 3), **detail, "finding": f.to_dict()})


def follow_printer(console, as_json: bool) -> Callable[[str, Finding, Dict], None]:
    def emit(kind: str, f: Finding, detail: Dict) -> None:
        now = time.time()
        if as_json:
            sys.stdout.write(follow_json(kind, f, detail, now) + "\n")
            sys.stdout.flush()
        else:
            console.print(follow_line(kind, f, detail, now))
    return emit
