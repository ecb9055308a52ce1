"""Where the C programs are: inside the installed package (netdrop.bpf_sources, which is bpf/ of the checkout), or
$NETDROP_BPF_DIR. Absolute paths: bcc compiles files, not strings."""
from __future__ import annotations

import os
from typing import List

from ..errors import KernelError


def _candidates() -> List[str]:
    out = [os.environ.get("NETDROP_BPF_DIR", "")]
    from importlib.util import find_spec
    try:  # a namespace package (no __init__.py: bpf/ holds C only): its directory is its search location
        spec = find_spec("netdrop.bpf_sources")
    except ImportError:
        spec = None
    if spec is not None and spec.submodule_search_locations:
        out.extend(spec.submodule_search_locations)
    here = os.path.dirname(os.path.abspath(__file__))
    out.append(os.path.join(here, "..", "..", "bpf"))  # a checkout run without installing (PYTHONPATH=.)
    return out


def bpf_dir() -> str:
    for cand in _candidates():
        if cand and os.path.isfile(os.path.join(cand, "netdrop.h")):
            return os.path.realpath(cand)
    raise KernelError("netdrop's BPF sources (bpf/*.c) are missing from this installation",
                      "reinstall netdrop (pip install .) from a complete checkout")


def source(name: str) -> str:
    path = os.path.join(bpf_dir(), name)
    if not os.path.isfile(path):
        raise KernelError(f"BPF source {name} is missing", "reinstall netdrop")
    return path
