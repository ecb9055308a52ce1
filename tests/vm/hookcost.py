"""Inside a guest: packets/s of the lab's wrong-MAC flood without and with the classification hooks attached
(the per-packet probes), each twice, interleaved. Prints one JSON line."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.getcwd())

from netdrop import lab as L  # noqa: E402
from netdrop.bpf.session import ClassifySession  # noqa: E402
from netdrop.classify import ip_rcv_core_symbol  # noqa: E402
from netdrop.kernel.features import KernelInfo  # noqa: E402


def flood_rate(seconds=3.0):
    out = subprocess.run([sys.executable, "-m", "netdrop", "lab", "flood", "--seconds", str(seconds)],
                         capture_output=True, text=True, check=True).stdout
    return int(out.split()[1]) / seconds


def main():
    k = KernelInfo.load()
    L.up("wrong-mac")
    res = {}
    try:
        for mode in ("fentry", "kprobe"):
            base, hooked = [], []
            for _ in range(2):
                base.append(flood_rate())
                try:
                    with ClassifySession(k.macros, ip_rcv_core_symbol(k.ksyms), k.btf.has_func("ip_rcv_core"),
                                         prefer=mode) as s:
                        if s.mode != mode:
                            raise RuntimeError(s.hooks[0].get("why"))
                        hooked.append(flood_rate())
                except Exception as exc:
                    res[mode] = {"error": str(exc)}
                    break
            else:
                res[mode] = {"untraced_pps": round(sum(base) / 2), "hooked_pps": round(sum(hooked) / 2),
                             "ratio": round(sum(hooked) / sum(base), 3)}
    finally:
        L.down()
    print(json.dumps(res))


if __name__ == "__main__":
    main()
