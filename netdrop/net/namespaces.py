"""The namespace registry: every network namespace on the host, however it is held, with a name a person knows.

Found from /run/netns and /var/run/netns (`ip netns`), every nsfs bind mount in /proc/self/mountinfo (docker's
/run/docker/netns, CNI's paths, anything else), and every process's /proc/<pid>/ns/net (deduplicated by inode).
Labelled by `ip netns` name, else by the container that holds it (runtimes.py: cgroup path + the engine's files),
else by the holding process ("pid 1234 (nginx)"). Each label knows a handle to enter the namespace by (a path that
setns() accepts); nothing here creates a namespace or keeps one open.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ..errors import NotFound, UsageError
from .netns import HOST, NETNS_DIRS, named, own_inode
from .runtimes import Container, RuntimeFiles, parse_cgroup, parse_mountinfo_nsfs

# names the engines give the namespaces they register under /run/netns: the container is the better label
GENERATED_NAME = re.compile(r"(netns|cni)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
REFRESH_SECONDS = 1.0  # at most one rescan a second when unknown namespaces or interfaces show up


class NsLabel(str):
    """A namespace's display label that also knows how to enter it (the string is what every output shows)."""

    inode: int = 0
    handle: str = ""  # a path setns() accepts: /run/netns/NAME, a bind mount, /proc/<pid>/ns/net
    ip_name: str = ""  # its `ip netns` name, if any
    pid: int = 0  # a process in it (the holder), if any
    comm: str = ""
    container: Optional[Container] = None

    def __new__(cls, text: str, **attrs) -> "NsLabel":
        obj = super().__new__(cls, text)
        for k, v in attrs.items():
            setattr(obj, k, v)
        return obj

    @property
    def kind(self) -> str:
        if self == HOST:
            return "host"
        if self.container is not None:
            return "container"
        if self.ip_name:
            return "named"
        return "process" if self.pid else "mount"

    def to_dict(self) -> Dict:
        """The JSON fields that say which namespace this is (docs/json.md)."""
        d: Dict = {"netns_id": self.inode, "netns_kind": self.kind}
        if self.ip_name:
            d["netns_name"] = self.ip_name
        if self.container is not None:
            d["container"] = self.container.to_dict()
        if self.pid:
            d["netns_holder"] = {"pid": self.pid, "comm": self.comm}
        return d


@dataclass
class Namespace:
    inode: int
    ip_name: str = ""
    mounts: List[str] = field(default_factory=list)
    pid: int = 0  # the lowest pid in it: a container's init, the process that unshared it
    comm: str = ""
    container: Optional[Container] = None

    def same_as(self, newer: "Namespace") -> bool:
        """Whether `newer` (a later scan's entry for this inode) is this namespace, not a new one that reuses the
        inode number (the kernel hands freed nsfs inodes out again at once)."""
        if self.ip_name and self.ip_name == newer.ip_name:
            return True
        if set(self.mounts) & set(newer.mounts):
            return True
        if self.pid and self.pid == newer.pid:
            return True
        try:  # the old holder still in it (it is no longer the lowest pid)
            return bool(self.pid) and int(os.readlink(f"/proc/{self.pid}/ns/net")[5:-1]) == self.inode
        except OSError:
            return False

    def label(self, own: int) -> NsLabel:
        if self.inode == own:
            text = HOST
        elif self.container is not None and (not self.ip_name or GENERATED_NAME.fullmatch(self.ip_name)):
            text = self.container.label()
        elif self.ip_name:
            text = self.ip_name
        elif self.pid:
            text = f"pid {self.pid} ({self.comm})"
        else:
            text = self.mounts[0] if self.mounts else f"netns:{self.inode}"
        handle = ("/proc/self/ns/net" if self.inode == own else
                  os.path.join(NETNS_DIRS[0], self.ip_name) if self.ip_name else
                  self.mounts[0] if self.mounts else f"/proc/{self.pid}/ns/net" if self.pid else "")
        return NsLabel(text, inode=self.inode, handle=handle, ip_name=self.ip_name, pid=self.pid, comm=self.comm,
                       container=self.container)


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def process_namespaces(proc: str = "/proc") -> Dict[int, int]:
    """netns inode -> lowest pid in it, from one readlink per process (no stat, no open)."""
    out: Dict[int, int] = {}
    for p in os.listdir(proc):
        if not p.isdigit():
            continue
        try:
            link = os.readlink(f"{proc}/{p}/ns/net")
        except OSError:
            continue  # gone, or a kernel thread
        ino = int(link[5:-1])
        pid = int(p)
        if pid < out.get(ino, 1 << 62):
            out[ino] = pid
    return out


def scan(runtime: Optional[RuntimeFiles] = None) -> Dict[int, Namespace]:
    spaces: Dict[int, Namespace] = {}
    for name, ino in named().items():
        ns = spaces.setdefault(ino, Namespace(ino))
        ns.ip_name = ns.ip_name or name
    for ino, path in parse_mountinfo_nsfs(_read("/proc/self/mountinfo")):
        ns = spaces.setdefault(ino, Namespace(ino))
        if path not in ns.mounts:
            ns.mounts.append(path)
    runtime = runtime or RuntimeFiles()
    for ino, pid in process_namespaces().items():
        ns = spaces.setdefault(ino, Namespace(ino))
        ns.pid = pid
        ns.comm = _read(f"/proc/{pid}/comm").strip() or "?"
        c = parse_cgroup(_read(f"/proc/{pid}/cgroup"))
        ns.container = runtime.named(c) if c is not None else None
    return spaces


class Registry:
    """inode <-> label for every namespace; `refresh()` rescans (rate-limited with `refresh_if_due`)."""

    def __init__(self, spaces: Optional[Dict[int, Namespace]] = None, own: Optional[int] = None,
                 clock=time.monotonic):
        self.own = own_inode() if own is None else own
        self.clock = clock
        self.refreshed_at = clock()
        self._set(scan() if spaces is None else spaces)

    @classmethod
    def from_names(cls, names: Dict[str, int], own: int) -> "Registry":
        """A registry of named namespaces only (unit tests)."""
        return cls({ino: Namespace(ino, ip_name=n) for n, ino in names.items()}, own=own)

    def _set(self, spaces: Dict[int, Namespace]) -> None:
        spaces.setdefault(self.own, Namespace(self.own))
        self.spaces = spaces
        self.labels: Dict[int, NsLabel] = {ino: ns.label(self.own) for ino, ns in spaces.items()}

    def refresh(self) -> List[int]:
        """Rescan; the inodes whose namespace is new, changed (a reused inode number) or gone."""
        self.refreshed_at = self.clock()
        old = self.spaces
        self._set(scan())
        changed = [i for i, ns in self.spaces.items() if i not in old or not old[i].same_as(ns)]
        return changed + [i for i in old if i not in self.spaces]

    def refresh_if_due(self) -> List[int]:
        """Rescan unless the last scan is under REFRESH_SECONDS old; what refresh() returns, or []."""
        if self.clock() - self.refreshed_at < REFRESH_SECONDS:
            return []
        return self.refresh()

    def born_since(self, earlier: Dict[int, Namespace]) -> frozenset:
        """Namespaces not in `earlier` (a copy of `spaces` from before), or new ones under a reused inode."""
        return frozenset(i for i, ns in self.spaces.items() if i not in earlier or not earlier[i].same_as(ns))

    def known(self, inode: int) -> bool:
        return inode in self.labels

    def name(self, inode: int) -> NsLabel:
        hit = self.labels.get(inode)
        if hit is not None:
            return hit
        return NsLabel(f"netns:{inode}" if inode else "-", inode=inode)

    def inode(self, spec: str) -> Optional[int]:
        try:
            return self.resolve(spec).inode
        except (NotFound, UsageError):
            return None

    def all(self) -> List[NsLabel]:
        """Every namespace: the host first, then by label."""
        return sorted(self.labels.values(), key=lambda lab: (lab != HOST, str(lab)))

    def resolve(self, spec: str) -> NsLabel:
        """--netns: an `ip netns` name, a label, a container name or id prefix, pid:N, or an inode."""
        s = spec.strip()
        if s == HOST:
            return self.labels[self.own]
        m = re.fullmatch(r"pid:(\d+)", s)
        if m:
            try:
                ino = int(os.readlink(f"/proc/{m.group(1)}/ns/net")[5:-1])
            except OSError as exc:
                raise NotFound(f"no process {m.group(1)} whose namespace can be read ({exc.strerror})",
                               "give a running process's pid, e.g. --netns pid:1234") from None
            if ino not in self.labels:
                self.refresh()
            return self.name(ino)
        if s.isdigit() and int(s) in self.labels:
            return self.labels[int(s)]
        exact = [lab for lab in self.labels.values() if s in (str(lab), lab.ip_name) or
                 (lab.container is not None and s in (lab.container.name, lab.container.pod))]
        if len(exact) == 1:
            return exact[0]
        hits = exact or [lab for lab in self.labels.values()
                         if lab.container is not None and len(s) >= 3 and lab.container.id.startswith(s)]
        if len(hits) == 1:
            return hits[0]
        if hits:
            raise UsageError(f"--netns {spec} matches {len(hits)} namespaces",
                             "give one of: " + _candidates(hits))
        raise NotFound(f"no network namespace {spec}",
                       "known: " + _candidates(self.all()) + " (or pid:N, or a namespace inode)")


def _candidates(labels: List[NsLabel], most: int = 12) -> str:
    shown = [f"{lab} [{lab.inode}]" for lab in labels[:most]]
    more = len(labels) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def measure(n_rounds: int = 5) -> Tuple[int, float]:
    """(processes, seconds per full scan): the registry's cost on this host."""
    procs = sum(1 for p in os.listdir("/proc") if p.isdigit())
    t0 = time.perf_counter()
    for _ in range(n_rounds):
        scan()
    return procs, (time.perf_counter() - t0) / n_rounds
