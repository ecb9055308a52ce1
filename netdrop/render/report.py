"""The diagnose verdict: rich panels and a table for people, a stable JSON object for programs."""
from __future__ import annotations

import json
from typing import List, Sequence

from rich.console import Group as RGroup
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..model import DropRow, Finding, Note, Report
from .columns import BY_KEY, DIAGNOSE_COLUMNS, wide
from .path import path_block
from .text import plain

CAUSE_STYLE = {"mac-mismatch": "bold red"}


def drops_table(rows: Sequence[DropRow], keys: Sequence[str] = DIAGNOSE_COLUMNS, total: int = 0,
                title: str = "") -> Table:
    table = Table(title=title or None, title_justify="left", expand=False, pad_edge=False, box=None,
                  header_style="bold")
    cols = [BY_KEY[k] for k in keys]
    for c in cols:
        # names, reasons, locations and addresses wrap (folding inside a word if they must), never cut: a cut
        # value can read as another valid one (NOT_SPECIFIE, a shorter interface name); numbers never need room
        numeric = c.justify == "right"
        # only numbers insist on their width: text (headers too) wraps, so the table fits the terminal instead of
        # being cropped at its edge
        table.add_column(c.header, justify=c.justify, min_width=c.width if numeric else None, no_wrap=numeric,
                         overflow="ellipsis" if numeric else "fold")
    for r in rows:
        cells: List[Text] = []
        for c in cols:
            if c.key == "share":
                cells.append(plain(f"{100.0 * r.count / total:.0f}%" if total else "-"))
            else:
                cells.append(plain(c.fmt(c.get(r))))
        style = "red" if r.dst_mac else ""
        table.add_row(*cells, style=style)
    return table


def _hanging(label: Text, text: Text) -> Table:
    """`label` then `text`, whose wrapped lines stay indented under the text's start (not under the label)."""
    grid = Table.grid()
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row(label, text)
    return grid


def finding_panel(i: int, f: Finding, stages=()) -> Panel:
    head = Text()
    head.append_text(plain(f.title + ".", "bold"))
    head.append("\n")
    head.append_text(plain(f.explanation))
    parts: list = [head, Text()]
    if f.evidence:
        parts.append(Text("Evidence:", style="bold"))
        parts.extend(_hanging(Text("  - "), plain(e)) for e in f.evidence)
        parts.append(Text())
    if stages:
        parts.extend(path_block(stages))
        parts.append(Text())
    parts.append(_hanging(Text("Fix: ", style="bold green"), plain(f.fix)))
    title = Text.assemble((f"Finding {i}: ", "bold"), (f.cause, CAUSE_STYLE.get(f.cause, "bold yellow")))
    return Panel(RGroup(*parts), title=title, title_align="left", expand=True)


def note_text(n: Note) -> Text:
    t = Text("note: ", style="bold yellow")
    t.append_text(plain(n.text))
    if n.hint:
        t.append("\n      hint: ", style="dim")
        t.append_text(plain(n.hint))
    return t


def render_report(r: Report, wide_table: bool = False) -> RGroup:
    parts: list = []
    head = Text.assemble(("netdrop diagnose", "bold"), f"  kernel {r.kernel}, watched {r.duration:.1f} s, hooks: ")
    head.append_text(plain(", ".join(h["name"] for h in r.hooks if h.get("attached")) or "none"))
    parts.append(head)
    missing = [h for h in r.hooks if not h.get("attached")]
    if missing:
        why = missing[0].get("why", "")
        parts.append(plain("not attached: " + ", ".join(h["name"] for h in missing) + (f" ({why})" if why else ""),
                           "dim"))
    if r.findings:
        verdict = Text(f"Verdict: {len(r.findings)} cause{'s' if len(r.findings) != 1 else ''} found", "bold red")
    else:
        verdict = Text("Verdict: no cause found", "bold green")
    parts.append(verdict)
    for i, f in enumerate(r.findings, 1):
        parts.append(finding_panel(i, f, r.paths[i - 1] if i <= len(r.paths) else ()))
    for n in r.notes:
        parts.append(note_text(n))
    if not r.findings:
        parts.extend(path_block(r.path, "Receive path of the traffic asked about (X: where it would die):"))
    if r.drops:
        keys = wide(DIAGNOSE_COLUMNS) if wide_table else DIAGNOSE_COLUMNS
        parts.append(drops_table(r.drops, keys, title=f"All drops in the window ({sum(d.count for d in r.drops):,})"))
    tail = f"events: lost {r.lost_events}, sampled away {r.sampled_events} (counts are exact, in-kernel)"
    parts.append(Text(tail, style="dim"))
    return RGroup(*parts)


def report_json(r: Report) -> str:
    return json.dumps(r.to_dict(), indent=2, sort_keys=False)
