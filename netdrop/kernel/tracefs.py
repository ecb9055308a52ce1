"""Where tracefs lives. netdrop never mounts it: raw tracepoints and BTF work without it."""
from __future__ import annotations

import os
from typing import Optional

CANDIDATES = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")


def tracefs_root() -> Optional[str]:
    for root in CANDIDATES:
        if os.path.isdir(os.path.join(root, "events")):
            return root
    return None


def read_event_format(system: str, event: str) -> Optional[str]:
    root = tracefs_root()
    if root is None:
        return None
    try:
        with open(os.path.join(root, "events", system, event, "format")) as f:
            return f.read()
    except OSError:
        return None


def event_fields(format_text: str):
    """Field names of a tracepoint format file, in order (common_* excluded)."""
    out = []
    for line in format_text.splitlines():
        line = line.strip()
        if line.startswith("field:"):
            decl = line[len("field:"):].split(";")[0]
            name = decl.replace("*", " ").split()[-1].split("[")[0]
            if not name.startswith("common_"):
                out.append(name)
    return out
