"""`netdrop check`: the capability table."""
from __future__ import annotations

import json
from dataclasses import asdict
from typing import List

from rich.console import Group
from rich.table import Table
from rich.text import Text

from .text import plain


def render_check(rows: List) -> Group:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for h in ("", "CAPABILITY", "STATE", "FIX / NOTE"):
        table.add_column(h, overflow="fold")
    for r in rows:
        mark = Text("ok", "green") if r.ok else Text("MISSING" if r.required else "no", "red" if r.required
                                                     else "yellow")
        table.add_row(mark, plain(r.name), plain(r.detail), plain("" if r.ok else r.hint))
    missing = [r.name for r in rows if r.required and not r.ok]
    verdict = Text("netdrop can run here" if not missing else "netdrop cannot run: " + ", ".join(missing),
                   "bold green" if not missing else "bold red")
    return Group(table, verdict)


def check_json(rows: List) -> str:
    return json.dumps({"capabilities": [asdict(r) for r in rows],
                       "ready": all(r.ok for r in rows if r.required)}, indent=2)
