"""Find a kernel header tree bcc can compile against, even one from another kernel.

netdrop's BPF reads every kernel struct at offsets taken from the running kernel's BTF, so the header tree is only
needed for bcc's own includes and basic types: a tree from another kernel (Debian's linux-headers-amd64) is fine.
Debian splits a tree in two (an arch part with generated headers, a common part with the sources): when only such a
split tree exists, netdrop overlays the two in a private temporary directory of symlinks (~100 links, milliseconds)
and points bcc at it with BCC_KERNEL_SOURCE. Nothing under /lib/modules is touched; the directory is removed on exit
and, after a SIGKILL, by the next run.
"""
from __future__ import annotations

import glob
import os
import platform
import re
import shutil
import tempfile
from dataclasses import dataclass
from typing import List, Optional

from ..errors import KernelError

TMP_PREFIX = "netdrop-headers-"


@dataclass
class HeaderTree:
    path: str  # what bcc gets as BCC_KERNEL_SOURCE (or the running kernel's own build dir)
    kernel: str  # which kernel the tree belongs to
    exact: bool  # belongs to the running kernel
    temporary: Optional[str] = None  # overlay directory netdrop made and must remove

    def cleanup(self) -> None:
        if self.temporary:
            shutil.rmtree(self.temporary, ignore_errors=True)
            self.temporary = None


def _complete(tree: str) -> bool:
    return os.path.exists(os.path.join(tree, "include/linux/kconfig.h")) and \
        os.path.exists(os.path.join(tree, "include/generated/autoconf.h"))


def _version_key(release: str):
    return [int(x) if x.isdigit() else x for x in re.split(r"[.-]", release)]


def candidates(modules_root: str = "/lib/modules") -> List[str]:
    """Kernel releases with a build dir under /lib/modules, the running one first, then newest first."""
    running = platform.release()
    rels = [os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(modules_root, "*", "build"))]
    rels.sort(key=_version_key, reverse=True)
    if running in rels:
        rels.remove(running)
        rels.insert(0, running)
    return rels


def overlay(dst: str, lower: str, upper: str) -> None:
    """Merge two trees into dst with symlinks; `upper` wins where both have a file."""
    names = set(os.listdir(lower)) | set(os.listdir(upper))
    for name in sorted(names):
        a, b, d = os.path.join(lower, name), os.path.join(upper, name), os.path.join(dst, name)
        if os.path.isdir(a) and os.path.isdir(b):
            os.mkdir(d)
            overlay(d, a, b)
        else:
            os.symlink(os.path.realpath(b if os.path.lexists(b) else a), d)


def remove_stale(tmp: Optional[str] = None) -> None:
    """Remove overlays left by netdrop processes that no longer exist (SIGKILL)."""
    tmp = tmp or tempfile.gettempdir()
    for path in glob.glob(os.path.join(tmp, TMP_PREFIX + "*")):
        m = re.match(re.escape(TMP_PREFIX) + r"(\d+)-", os.path.basename(path))
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            shutil.rmtree(path, ignore_errors=True)


def find_headers(modules_root: str = "/lib/modules") -> HeaderTree:
    running = platform.release()
    for rel in candidates(modules_root):
        build = os.path.realpath(os.path.join(modules_root, rel, "build"))
        source = os.path.join(modules_root, rel, "source")
        exact = rel == running
        if _complete(build):
            if exact:
                return HeaderTree(build, rel, True)
            return HeaderTree(build, rel, False)
        if os.path.isdir(build) and os.path.isdir(source) and _complete_pair(build, os.path.realpath(source)):
            remove_stale()
            tmp = tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-")
            tree = os.path.join(tmp, "tree")
            os.mkdir(tree)
            overlay(tree, os.path.realpath(source), build)
            return HeaderTree(tree, rel, exact, temporary=tmp)
    raise KernelError(
        "no kernel headers found under /lib/modules",
        f"install headers: apt-get install linux-headers-{running} (or linux-headers-{_arch_package()} on Debian)",
    )


def _complete_pair(build: str, source: str) -> bool:
    return os.path.exists(os.path.join(source, "include/linux/kconfig.h")) and \
        os.path.exists(os.path.join(build, "include/generated/autoconf.h"))


def _arch_package() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
