"""Draws a receive path (diagnose/path.py) as a picture: one line per stage, an arrow between stages, the count
where there is evidence ("-" where there is none), the drop point marked X. Plain text underneath: readable with
NO_COLOR and wrapped under its own column at 80 columns."""
from __future__ import annotations

from typing import Sequence

from rich.table import Table
from rich.text import Text

from .text import plain


def path_table(stages: Sequence) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)  # marker
    grid.add_column(no_wrap=True)  # stage
    grid.add_column(no_wrap=True, justify="right")  # count
    grid.add_column(overflow="fold")  # note
    for i, s in enumerate(stages):
        marker = Text("X ", style="bold red") if s.drop else Text("->" if i else "  ", style="dim")
        style = "bold red" if s.drop else ""
        grid.add_row(marker, plain(s.stage, style or "bold"), plain("-" if s.count is None else f"{s.count:,}", style),
                     plain(s.note, style))
    return grid


def path_block(stages: Sequence, title: str = "Receive path (X: where the frames died):") -> list:
    if not stages:
        return []
    return [Text(title, style="bold"), path_table(stages)]
