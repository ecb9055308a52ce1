"""Can this kernel attach fentry/fexit programs? Asked the only reliable way: load and attach a two-instruction
tracing program on a function's BTF id with the bpf() syscall, then close it at once (nothing stays attached).

BTF for a function is not enough: a kernel may have BTF yet no BPF trampoline for the architecture, or refuse
tracing programs (lockdown), as this project's development VM does. No bcc and no compiler are needed.
"""
from __future__ import annotations

import platform
from typing import Tuple

from . import bpfsys
from .btf import BTF, FUNC


def probe_fentry(btf: BTF, func: str = "eth_type_trans") -> Tuple[bool, str]:
    """(attachable, detail). Never raises."""
    if not bpfsys.supported():
        return False, f"not probed on {platform.machine()}"
    tid = btf.find(FUNC, func)
    if tid is None:
        return False, f"no BTF for {func}"
    return bpfsys.probe_attach(bpfsys.BPF_TRACE_FENTRY, tid, f"a fentry program on {func}")
