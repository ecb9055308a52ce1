"""Entering a network namespace briefly (this thread only) to open a socket or read /proc. Never creates one.

The registry of every namespace and its labels is namespaces.py; this module only knows handles: a label that carries
one (namespaces.NsLabel), a path setns() accepts (/proc/<pid>/ns/net, a bind mount), or an `ip netns` name.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from contextlib import contextmanager
from typing import Dict, Iterator, Optional

NETNS_DIRS = ("/run/netns", "/var/run/netns")
CLONE_NEWNET = 0x40000000
HOST = "host"


def named() -> Dict[str, int]:
    """name -> inode of the namespaces `ip netns` knows."""
    out: Dict[str, int] = {}
    for d in NETNS_DIRS:
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        for name in names:
            try:
                out.setdefault(name, os.stat(os.path.join(d, name)).st_ino)
            except OSError:
                continue
    return out


def own_inode() -> int:
    return os.stat("/proc/self/ns/net").st_ino


def handle_of(netns: Optional[str]) -> Optional[str]:
    """The path to setns() through for `netns`; None for the host (nothing to enter)."""
    if not netns or netns == HOST:
        return None
    handle = getattr(netns, "handle", "")
    if handle:
        return handle
    if netns.startswith("/"):
        return netns
    for d in NETNS_DIRS:
        path = os.path.join(d, netns)
        if os.path.exists(path):
            return path
    raise OSError(errno.ENOENT, f"no handle to enter network namespace {netns}")


def describe_handle(netns: str) -> str:
    """How a failure to enter `netns` reads: "the namespace of pid 1234", "netns NAME", "the namespace at PATH"."""
    pid = getattr(netns, "pid", 0)
    if getattr(netns, "ip_name", "") or not getattr(netns, "handle", ""):
        return f"netns {netns}"
    if getattr(netns, "handle", "").startswith("/proc/") and pid:
        return f"the namespace of pid {pid}"
    return f"the namespace at {netns.handle}"


_libc = None


def _setns(fd: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@contextmanager
def entered(netns: Optional[str]) -> Iterator[None]:
    """Run the block in namespace `netns` (this thread only); sockets opened inside stay in it."""
    target_path = handle_of(netns)
    if target_path is None:
        yield
        return
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        target = os.open(target_path, os.O_RDONLY)
    except OSError:
        os.close(own)
        raise
    want = getattr(netns, "inode", 0)
    if want and os.fstat(target).st_ino != want:  # the pid or name now leads to another namespace
        os.close(target)
        os.close(own)
        raise OSError(errno.ESTALE, f"{target_path} is no longer namespace {want} (it is gone)")
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)
