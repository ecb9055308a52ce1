"""--follow verifies a fix: the cause is reported, then reported gone once the neighbour entry is corrected."""
import json
import subprocess
import threading

from netdrop import lab as L


def test_follow_reports_the_cause_gone_after_the_fix(lab, background):
    bg = background("diagnose", "--follow", "--json", "--resolved-after", "1", "--ip", L.SECONDARY_IP)
    bg.wait_ready()
    stop = threading.Event()

    def traffic():  # a steady trickle to the address, before and after the fix
        while not stop.is_set():
            L.send(1, "wrong-mac")
            stop.wait(0.02)

    sender = threading.Thread(target=traffic)
    sender.start()
    lines = []
    try:
        for line in bg.proc.stdout:
            rec = json.loads(line)
            if rec["finding"]["cause"] != "mac-mismatch":
                continue  # after the fix the datagrams reach 10.200.0.3, where nothing listens: no-socket
            lines.append(rec)
            if rec["type"] == "found":
                subprocess.run(["ip", "-n", L.TX_NS, "neigh", "replace", L.SECONDARY_IP, "lladdr", L.RX_MAC,
                                "dev", L.TX_IF, "nud", "permanent"], check=True)
            if rec["type"] == "resolved":
                break
    finally:
        stop.set()
        sender.join()
        bg.proc.terminate()
        bg.finish()
    kinds = [r["type"] for r in lines]
    assert kinds[0] == "found" and kinds[-1] == "resolved"
    done = lines[-1]
    assert done["finding"]["cause"] == "mac-mismatch" and done["finding"]["ip"] == L.SECONDARY_IP
    assert done["quiet_seconds"] >= 1
    assert done["evidence"] == f"the sender's neighbour entry for {L.SECONDARY_IP} now holds {L.RX_MAC}, vB's MAC"


def test_follow_never_calls_quiet_resolved(lab, background):
    """No drop for a while proves nothing when nothing was sent: --follow says "quiet, not yet confirmed"."""
    bg = background("diagnose", "--follow", "--json", "--resolved-after", "1", "--ip", L.SECONDARY_IP)
    bg.wait_ready()
    L.send(3, "wrong-mac")
    kinds = []
    try:
        for line in bg.proc.stdout:
            rec = json.loads(line)
            if rec["finding"]["cause"] == "mac-mismatch":
                kinds.append(rec["type"])
            if rec["type"] in ("quiet", "resolved"):
                break
    finally:
        bg.proc.terminate()
        bg.finish()
    assert kinds == ["found", "quiet"], kinds
