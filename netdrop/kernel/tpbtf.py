"""A tracepoint program of the BTF-typed kind (tp_btf), loaded and attached by netdrop itself.

Why not bcc: bcc 0.26 compiles such a program fine, but its loader derives a TRACING program's attach type from the
function name's prefix (kfunc__/kretfunc__/lsm__/bpf_iter__) and ignores the one it is given, so it cannot load a
tp_btf program. netdrop takes the compiled instructions (bcc has already put its maps' fds in them), loads them as
BPF_PROG_TYPE_TRACING / BPF_TRACE_RAW_TP at the BTF id of the tracepoint's typedef (`btf_trace_<name>`), and
attaches with BPF_RAW_TRACEPOINT_OPEN. The link fd is the attachment: it goes away with the process however that ends.
"""
from __future__ import annotations

import os
import platform
from typing import Optional, Tuple

from ..errors import KernelError
from . import bpfsys
from .btf import BTF, FUNC, TYPEDEF

LOG_SIZE = 1 << 20
# Kernel functions (kfuncs) a program calls. bcc 0.26 cannot declare one, so bpf/netdrop.h calls each as a helper
# with a placeholder number (passed as the -D macro named here) that kfunc_calls() rewrites into the real call.
KFUNCS = {"bpf_rdonly_cast": ("KFUNC_RDONLY_CAST", 0x7FF0)}
CALL = 0x85
PSEUDO_KFUNC_CALL = 2


def kfunc_macros(btf: BTF) -> dict:
    """-D macros for the kfuncs this kernel has (their placeholder call numbers); none on kernels without."""
    return {macro: num for name, (macro, num) in KFUNCS.items() if btf.find(FUNC, name) is not None}


def kfunc_calls(insns: bytes, btf: BTF) -> bytes:
    """The instructions with every placeholder helper call turned into a call of the kfunc (its vmlinux BTF id)."""
    ids = {num: btf.find(FUNC, name) for name, (_, num) in KFUNCS.items()}
    out = bytearray(insns)
    for i in range(0, len(out), 8):
        if out[i] == CALL and out[i + 1] >> 4 == 0:
            tid = ids.get(int.from_bytes(out[i + 4:i + 8], "little", signed=True))
            if tid is not None:
                out[i + 1] = (out[i + 1] & 0x0F) | (PSEUDO_KFUNC_CALL << 4)
                out[i + 4:i + 8] = tid.to_bytes(4, "little")
    return bytes(out)


def target(btf: BTF, tracepoint: str) -> Optional[int]:
    """BTF id of the tracepoint's typedef, where a tp_btf program attaches; None if the kernel has none."""
    return btf.find(TYPEDEF, "btf_trace_" + tracepoint)


def probe(btf: BTF, tracepoint: str = "kfree_skb") -> Tuple[bool, str]:
    """(a tp_btf program can attach to `tracepoint`, detail): a two-instruction program loaded, attached and closed
    at once. Never raises; no compiler needed."""
    if not bpfsys.supported():
        return False, f"not probed on {platform.machine()}"
    tid = target(btf, tracepoint)
    if tid is None:
        return False, f"no btf_trace_{tracepoint} in this kernel's BTF"
    return bpfsys.probe_attach(bpfsys.BPF_TRACE_RAW_TP, tid, f"a tp_btf program on {tracepoint}")


class TpBtfProgram:
    """One loaded tp_btf program and its attachment; close() (or the process's end) detaches and unloads it."""

    def __init__(self, btf: BTF, tracepoint: str, insns: bytes, name: str):
        tid = target(btf, tracepoint)
        if tid is None:
            raise KernelError(f"no btf_trace_{tracepoint} in this kernel's BTF", "")
        insns = kfunc_calls(insns, btf)
        fd, err, _ = bpfsys.load_tracing(insns, bpfsys.BPF_TRACE_RAW_TP, tid, name.encode())
        if fd < 0:  # load again for the verifier's words (a log costs time and memory: only after a failure)
            _, _, log = bpfsys.load_tracing(insns, bpfsys.BPF_TRACE_RAW_TP, tid, name.encode(), LOG_SIZE)
            tail = [ln for ln in log.strip().splitlines() if ln][-3:]
            raise KernelError(f"the kernel refused the tp_btf {tracepoint} program ({bpfsys.errname(err)})"
                              + (": " + " | ".join(tail) if tail else ""), "")
        self.prog_fd = fd
        self.link_fd = -1
        self.tracepoint = tracepoint

    def attach(self) -> None:
        link, err = bpfsys.attach_at_btf_target(self.prog_fd)
        if link < 0:
            self.close()
            raise KernelError(f"the tp_btf {self.tracepoint} program did not attach ({bpfsys.errname(err)})", "")
        self.link_fd = link

    def detach(self) -> None:
        if self.link_fd >= 0:
            os.close(self.link_fd)
            self.link_fd = -1

    def close(self) -> None:
        self.detach()
        if self.prog_fd >= 0:
            os.close(self.prog_fd)
            self.prog_fd = -1
