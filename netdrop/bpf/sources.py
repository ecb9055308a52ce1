"""Where the C programs live: bpf/ beside the package in a checkout (pip install -e), or $NETDROP_BPF_DIR."""
from __future__ import annotations

import os

from ..errors import KernelError


def bpf_dir() -> str:
    env = os.environ.get("NETDROP_BPF_DIR")
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in (env, os.path.join(here, "..", "..", "bpf"), "/usr/share/netdrop/bpf"):
        if cand and os.path.isfile(os.path.join(cand, "netdrop.h")):
            return os.path.realpath(cand)
    raise KernelError("netdrop's BPF sources (bpf/*.c) are missing", "reinstall netdrop from its checkout (pip install -e .)")


def source(name: str) -> str:
    path = os.path.join(bpf_dir(), name)
    if not os.path.isfile(path):
        raise KernelError(f"BPF source {name} is missing", "reinstall netdrop")
    return path
