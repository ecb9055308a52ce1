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


def mount_points(mountinfo: str = "/proc/self/mountinfo") -> list:
    """Where tracefs is mounted, from the mount table (readable by anyone, unlike tracefs itself)."""
    out = []
    try:
        with open(mountinfo) as f:
            for line in f:
                pre, _, post = line.partition(" - ")
                if post.split(" ", 1)[0] == "tracefs":
                    out.append(pre.split(" ")[4].replace("\\040", " "))
    except OSError:
        pass
    return out


def describe() -> str:
    """For `check`: where tracefs is, or why it cannot be used (absent vs not readable by this user)."""
    root = tracefs_root()
    if root:
        return root
    mounted = mount_points()
    if mounted:
        return f"mounted at {mounted[0]} but not readable by this user (root can read it)"
    return "not mounted"


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
