"""Network namespaces: names <-> inodes, and entering one briefly to open a socket. Never creates one."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from contextlib import contextmanager
from typing import Dict, Iterator, Optional

NETNS_RUN_DIR = "/var/run/netns"
CLONE_NEWNET = 0x40000000
HOST = "host"


def named() -> Dict[str, int]:
    """name -> inode of the namespaces `ip netns` knows."""
    out = {}
    try:
        names = sorted(os.listdir(NETNS_RUN_DIR))
    except OSError:
        return out
    for name in names:
        try:
            out[name] = os.stat(os.path.join(NETNS_RUN_DIR, name)).st_ino
        except OSError:
            continue
    return out


def own_inode() -> int:
    return os.stat("/proc/self/ns/net").st_ino


class NetnsNames:
    """inode -> display name: the `ip netns` name, "host" for netdrop's own namespace, else netns:<inode>."""

    def __init__(self, names: Optional[Dict[str, int]] = None, own: Optional[int] = None):
        self.by_name = named() if names is None else names
        self.own = own_inode() if own is None else own
        self.by_inode = {ino: name for name, ino in self.by_name.items()}

    def name(self, inode: int) -> str:
        if inode == self.own:
            return HOST
        if inode in self.by_inode:
            return self.by_inode[inode]
        return f"netns:{inode}" if inode else "-"

    def inode(self, name: str) -> Optional[int]:
        if name == HOST:
            return self.own
        return self.by_name.get(name)


_libc = None


def _setns(fd: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@contextmanager
def entered(name: Optional[str]) -> Iterator[None]:
    """Run the block in namespace `name` (this thread only); sockets opened inside stay in it."""
    if not name or name == HOST:
        yield
        return
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(os.path.join(NETNS_RUN_DIR, name), os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)
