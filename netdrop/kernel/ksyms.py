"""Kernel address -> "symbol+0xoff" from /proc/kallsyms (sorted here: the file is not guaranteed to be)."""
from __future__ import annotations

import bisect
from typing import List, Optional, Tuple

KALLSYMS = "/proc/kallsyms"


class Ksyms:
    def __init__(self, entries: List[Tuple[int, str]]):
        entries = sorted(e for e in entries if e[0])
        self._addrs = [a for a, _ in entries]
        self._names = [n for _, n in entries]

    @classmethod
    def parse(cls, text: str, text_only: bool = True) -> "Ksyms":
        entries = []
        for line in text.splitlines():
            parts = line.split()
            if len(parts) < 3:
                continue
            if text_only and parts[1] not in ("t", "T", "w", "W"):
                continue
            name = parts[2] if len(parts) == 3 else f"{parts[2]} {parts[3]}"  # "sym [module]" stays readable
            entries.append((int(parts[0], 16), name))
        return cls(entries)

    @classmethod
    def load(cls, path: str = KALLSYMS) -> "Ksyms":
        try:
            with open(path) as f:
                return cls.parse(f.read())
        except OSError:
            return cls([])

    def __len__(self) -> int:
        return len(self._addrs)

    def lookup(self, addr: int) -> Optional[Tuple[str, int]]:
        i = bisect.bisect_right(self._addrs, addr) - 1
        if i < 0 or not self._addrs:
            return None
        return self._names[i], addr - self._addrs[i]

    def format(self, addr: int) -> str:
        if not addr:
            return "-"
        hit = self.lookup(addr)
        if hit is None:
            return f"0x{addr:x}"
        name, off = hit
        sym, _, module = name.partition(" ")
        return f"{sym}+0x{off:x}" + (f" {module}" if module else "")

    def has(self, name: str) -> bool:
        return name in self._names

    def find(self, name: str):
        """`name`, or a compiler clone of it ("name.isra.0", "name.constprop.0"), as kallsyms spells it."""
        if name in self._names:
            return name
        return next((n for n in self._names if n.startswith(name + ".")), None)
