"""Bad input and interruptions: one-line error + hint, documented exit codes, nothing left behind."""
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from netdrop import lab as L

from ..conftest import kfree_progs, netdrop, readable_copy


def assert_error(r, code, words):
    assert r.returncode == code, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("error: ") and words in lines[0], r.stderr
    assert len(lines) == 2 and lines[1].startswith("hint: "), r.stderr
    assert "Traceback" not in r.stderr


def test_unknown_interface():
    assert_error(netdrop("diagnose", "--iface", "nosuchif0", "--duration", "1"), 5, "no interface named nosuchif0")


def test_unknown_netns():
    assert_error(netdrop("diagnose", "--netns", "nosuchns", "--duration", "1"), 5, "nosuchns")


def test_bad_address():
    assert_error(netdrop("diagnose", "--ip", "10.0.0.300", "--duration", "1"), 2, "not an IP address")


def test_bad_duration():
    assert_error(netdrop("diagnose", "--duration", "-1"), 2, "not in the range 0<x<=86400")


def test_unknown_option_is_usage_error():
    assert_error(netdrop("diagnose", "--bogus"), 2, "--bogus")


def test_lab_traffic_without_lab():
    L.down()
    assert_error(netdrop("lab", "traffic", "--count", "1"), 5, "the lab is not up")


def test_lab_backlog_traffic_refused_without_its_scenario_or_when_long(lab):
    from netdrop.lab import backlog as labbacklog
    with open(labbacklog.SYSCTL) as f:
        before = f.read()
    assert_error(netdrop("lab", "traffic", "--kind", "backlog", "--count", "1"), 2, "needs its lab scenario")
    assert_error(netdrop("lab", "traffic", "--kind", "backlog", "--count", str(labbacklog.MAX_FRAMES + 1)), 2,
                 "at most")
    with open(labbacklog.SYSCTL) as f:
        assert f.read() == before
    assert not os.path.exists(labbacklog.STATE_FILE)


@pytest.mark.skipif(not shutil.which("setpriv"), reason="needs setpriv")
def test_not_root():
    """As an unprivileged user: netdrop's own "needs root" error, whatever the checkout's place (under /root, or
    any 0700 directory, the user could not even import netdrop from it: it runs from a copy it can read)."""
    with readable_copy() as (python, env):
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                            python, "-m", "netdrop", "diagnose", "--duration", "1"], capture_output=True, text=True,
                           env=dict(env, NO_COLOR="1"), cwd="/")
    assert_error(r, 3, "needs root")


def test_check_reports_this_kernel():
    r = netdrop("check", "--json")
    assert r.returncode == 0, r.stderr
    caps = {c["name"]: c for c in json.loads(r.stdout)["capabilities"]}
    assert caps["skb:kfree_skb"]["ok"] and caps["BTF"]["ok"] and caps["bcc"]["ok"]
    assert caps["root"]["ok"]
    for c in caps.values():
        assert c["ok"] or c["hint"], c  # everything missing says how to fix it


@pytest.mark.parametrize("follow", [[], ["--follow"]])
def test_check_fentry_row_agrees_with_what_diagnose_attaches(lab, follow):
    """--follow shares diagnose's runtime: it attaches the same hooks (it used to skip them without a word)."""
    caps = {c["name"]: c for c in json.loads(netdrop("check", "--json").stdout)["capabilities"]}
    r = netdrop("diagnose", "--json", "--duration", "0.2", "--classify", "fentry", *follow)
    if not caps["fentry/fexit"]["ok"]:  # asked for by name and impossible: an error, not a quiet fallback
        assert_error(r, 4, "--classify fentry: the hooks cannot attach here")
        return
    assert r.returncode == 0, r.stderr
    if follow:
        return  # --follow prints causes as they come: none here; attaching without an error is the point
    hooks = {h["name"]: h for h in json.loads(r.stdout)["hooks"]}
    fexit = hooks["eth_type_trans (return)"]
    assert fexit["attached"] and fexit.get("type") == "fexit", fexit


@pytest.mark.parametrize("hook", ["default", "raw_tracepoint"])
@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 0), (signal.SIGTERM, 0), (signal.SIGKILL, -9)])
def test_interrupted_run_detaches(background, sig, code, hook):
    """Ctrl-C or SIGTERM end the watching window early and the verdict is printed; SIGKILL just dies. Either way
    the probe is gone and nothing is left behind, on both hooks (tp_btf's link fd is netdrop's own; bcc holds the
    raw tracepoint's)."""
    before = kfree_progs()
    bg = background("diagnose", "--duration", "60",
                    env={"NETDROP_KFREE_HOOK": "raw_tracepoint"} if hook == "raw_tracepoint" else None)
    bg.wait_ready()
    ours = kfree_progs() - before
    assert ours, "diagnose loaded no kfree_skb program"
    bg.proc.send_signal(sig)
    rc, out, err = bg.finish(timeout=30)
    assert rc == code, err
    if sig != signal.SIGKILL:
        assert "Verdict: no cause found" in out and "Traceback" not in err
    deadline = time.monotonic() + 10
    while ours & kfree_progs() and time.monotonic() < deadline:
        time.sleep(0.05)  # the kernel frees a killed process's programs asynchronously
    assert not (ours & kfree_progs())

    def leftovers():
        return [p for p in os.listdir("/tmp") if p.startswith(f"netdrop-headers-{bg.proc.pid}-")]

    if sig == signal.SIGKILL:  # nothing runs on SIGKILL: the next netdrop run removes the header overlay
        assert netdrop("check").returncode == 0
    assert leftovers() == []
