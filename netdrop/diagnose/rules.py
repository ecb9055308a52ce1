"""The table of causes netdrop can name, built from the cause modules (diagnose/causes/). Reason names are the
kernel's own (read at run time); a kernel without reasons gets OTHERHOST from enrich.py."""
from __future__ import annotations

from typing import Tuple

from .causes import MODULES
from .rule import Rule

RULES: Tuple[Rule, ...] = tuple(m.RULE for m in MODULES)
CAUSES: Tuple[str, ...] = tuple(r.cause for r in RULES)
