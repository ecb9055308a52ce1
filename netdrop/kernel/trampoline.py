"""Can this kernel attach fentry/fexit programs? Asked the only reliable way: load and attach a two-instruction
tracing program on a function's BTF id with the bpf() syscall, then close it at once (nothing stays attached).

BTF for a function is not enough: a kernel may have BTF yet no BPF trampoline for the architecture, or refuse
tracing programs (lockdown), as this project's development VM does. No bcc and no compiler are needed.
"""
from __future__ import annotations

import os
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
    prog, err, _ = bpfsys.load_tracing(bpfsys.RETURN_0, bpfsys.BPF_TRACE_FENTRY, tid)
    if prog < 0:
        return False, f"the kernel refused a fentry program on {func} ({bpfsys.errname(err)})"
    try:
        link, err = bpfsys.attach_at_btf_target(prog)
        if link < 0:
            return False, f"a fentry program on {func} loaded but did not attach ({bpfsys.errname(err)})"
        os.close(link)
        return True, f"a fentry program on {func} loaded and attached (then detached)"
    finally:
        os.close(prog)
