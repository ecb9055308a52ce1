"""Consoles and safe text. Everything from the kernel or the network (interface names, packet bytes) goes into
rich as plain Text, never as markup."""
from __future__ import annotations

import os
import sys
from typing import Optional

from rich.console import Console
from rich.text import Text


def console(stderr: bool = False, width: Optional[int] = None, force_terminal: Optional[bool] = None) -> Console:
    no_color = bool(os.environ.get("NO_COLOR"))
    return Console(file=sys.stderr if stderr else sys.stdout, markup=False, highlight=False, emoji=False,
                   no_color=no_color, width=width, force_terminal=force_terminal, soft_wrap=False)


def plain(s: object, style: str = "") -> Text:
    """Untrusted text as a Text: brackets and control characters stay inert."""
    text = str(s)
    cleaned = "".join(ch if ch.isprintable() or ch == "\n" else f"\\x{ord(ch):02x}" for ch in text)
    return Text(cleaned, style=style)
