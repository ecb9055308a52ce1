"""The compile cache: a compiled kfree_skb program kept as bytes, so that a warm start loads it without bcc or
LLVM (~0.2 s and ~120 MiB of peak memory saved; see bench/README.md).

An entry is keyed by everything the bytes depend on: the sources (drops.c, netdrop.h), the compiler flags (every
-D: BTF offsets, tracepoint arguments, filters, budgets), the running kernel (release and build) and bcc's version.
It holds the instructions, the maps' definitions and where each map's fd goes in the instructions. Only programs
netdrop loads itself (tp_btf) are cached: bcc loads the raw tracepoint fallback.

Where: $NETDROP_CACHE_DIR, else /var/cache/netdrop ("off" disables). A missing, unreadable, corrupt or stale entry
means a compile, never an error; entries are written whole (temporary file, then rename), and the oldest beyond
MAX_ENTRIES are removed. Deleting the directory is always safe.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import platform
import tempfile
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

DEFAULT_DIR = "/var/cache/netdrop"
MAX_ENTRIES = 32
FORMAT = 1
LD_IMM64 = 0x18
PSEUDO_MAP = (1, 2)  # BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE: the imm is a map fd


def cache_dir() -> Optional[str]:
    d = os.environ.get("NETDROP_CACHE_DIR", DEFAULT_DIR)
    return None if d in ("", "off") else d


def bcc_version_text() -> str:
    """bcc's version without importing it (importing bcc loads libbcc and LLVM: what the cache is there to avoid)."""
    spec = importlib.util.find_spec("bcc")
    if spec is None or not spec.origin:
        return "none"
    try:
        with open(os.path.join(os.path.dirname(spec.origin), "version.py")) as f:
            return f.read().strip()
    except OSError:
        return "unknown"


def key(source_paths: List[str], cflags: List[str]) -> str:
    h = hashlib.sha256()
    for p in source_paths:
        with open(p, "rb") as f:
            h.update(f.read())
    u = platform.uname()
    for part in (cflags, [u.release, u.version, u.machine], [bcc_version_text(), str(FORMAT)]):
        h.update(json.dumps(part).encode())
    return h.hexdigest()


@dataclass
class Compiled:
    insns: bytes
    maps: List[Dict[str, int]]  # name, type, key_size, value_size, max_entries, flags
    relocs: List[Tuple[int, int]]  # (instruction index, index in maps)


def map_fds(insns: bytes) -> List[Tuple[int, int]]:
    """[(instruction index, map fd)] of every map reference in compiled instructions."""
    out = []
    for i in range(0, len(insns) // 8):
        if insns[i * 8] == LD_IMM64 and insns[i * 8 + 1] >> 4 in PSEUDO_MAP:
            out.append((i, int.from_bytes(insns[i * 8 + 4:i * 8 + 8], "little", signed=True)))
    return out


def patched(insns: bytes, relocs: List[Tuple[int, int]], fds: List[int]) -> bytes:
    """The instructions with map number relocs[i][1] replaced by the fd fds[relocs[i][1]]."""
    out = bytearray(insns)
    for idx, m in relocs:
        out[idx * 8 + 4:idx * 8 + 8] = fds[m].to_bytes(4, "little", signed=True)
    return bytes(out)


def _trusted(path: str) -> bool:
    """Bytecode loaded into the kernel as root must come from a file only this user could have written: owned by
    us, not writable by group or others (a directory someone else prepared is ignored, and netdrop compiles)."""
    st = os.stat(path)
    return st.st_uid == os.geteuid() and not st.st_mode & 0o022


def load(k: str) -> Optional[Compiled]:
    d = cache_dir()
    if d is None:
        return None
    try:
        if not _trusted(d) or not _trusted(os.path.join(d, k + ".json")):
            return None
        with open(os.path.join(d, k + ".json")) as f:
            doc = json.load(f)
        if doc.get("format") != FORMAT or doc.get("key") != k:
            return None
        c = Compiled(bytes.fromhex(doc["insns"]), list(doc["maps"]), [tuple(r) for r in doc["relocs"]])
        if not c.insns or len(c.insns) % 8 or any(not 0 <= m < len(c.maps) or not 0 <= i < len(c.insns) // 8
                                                  for i, m in c.relocs):
            return None
        return c
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or corrupt: compile


def store(k: str, c: Compiled) -> None:
    d = cache_dir()
    if d is None:
        return
    try:
        os.makedirs(d, mode=0o755, exist_ok=True)
        doc = {"format": FORMAT, "key": k, "insns": c.insns.hex(), "maps": c.maps, "relocs": c.relocs}
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, os.path.join(d, k + ".json"))
        entries = sorted((e for e in os.scandir(d) if e.name.endswith(".json")), key=lambda e: e.stat().st_mtime)
        for e in entries[:-MAX_ENTRIES]:
            os.unlink(e.path)
    except OSError:
        pass  # a read-only or full disk: the next start compiles again
