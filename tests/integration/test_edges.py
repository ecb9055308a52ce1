"""Every bad input and hostile environment: one `error:` line, one `hint:` line, the documented exit code, no
traceback, and the host unchanged (no BPF program, promiscuity or namespace left behind)."""
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from netdrop import lab as L

from ..conftest import NETDROP, ROOT, host_only, kfree_progs, readable_copy

pytestmark = host_only

USAGE, PERM, KERNEL, NOT_FOUND = 2, 3, 4, 5

# (arguments, exit code, words the error line must contain)
BAD_INPUT = [
    (["diagnose", "--iface", "nosuchif0"], NOT_FOUND, "no interface named nosuchif0"),
    (["diagnose", "--netns", "nosuchns"], NOT_FOUND, "nosuchns"),
    (["diagnose", "--ip", "10.0.0.300"], USAGE, "not an IP address"),
    (["diagnose", "--ip", "fe80::1%$(rm)"], NOT_FOUND, "no interface named '$(rm)'"),
    (["diagnose", "--ip", "fe80::1%nosuchif"], NOT_FOUND, "no interface named 'nosuchif'"),
    (["diagnose", "--ip", "10.0.0.1%lo"], USAGE, "only an IPv6 link-local address takes a %zone"),
    (["diagnose", "--ip", "fe80::1%lo", "--iface", "nosuchif0"], USAGE, "disagree"),
    (["diagnose", "--duration", "-1"], USAGE, "--duration"),
    (["diagnose", "--duration", "0"], USAGE, "--duration"),
    (["diagnose", "--duration", "inf"], USAGE, "--duration"),
    (["diagnose", "--duration", "nan"], USAGE, "--duration"),
    (["diagnose", "--duration", "86401"], USAGE, "--duration"),
    (["diagnose", "--duration", "soon"], USAGE, "--duration"),
    (["diagnose", "--bogus"], USAGE, "--bogus"),
    (["diagnose", "extra-argument"], USAGE, "extra-argument"),
    (["diagnose", "--ready-file", "/nonexistent/d/r"], USAGE, "does not exist"),
    (["diagnose", "--ready-file", "/"], USAGE, "is a directory"),
    (["diagnose", "--promisc"], USAGE, "--promisc needs --iface or --ip"),
    (["diagnose", "--promisc", "--ip", "10.254.254.254"], NOT_FOUND, "not configured on any interface"),
    (["diagnose", "--classify", "bogus"], USAGE, "--classify"),
    (["diagnose", "--resolved-after", "0"], USAGE, "--resolved-after"),
    (["diagnose", "--width", "5"], USAGE, "--width"),
    (["--width", "10", "diagnose"], USAGE, "--width"),
    (["top", "--interval", "0"], USAGE, "--interval"),
    (["top", "--iface", "nosuchif0", "--once"], NOT_FOUND, "nosuchif0"),
    (["top", "--netns", "nosuchns", "--once"], NOT_FOUND, "nosuchns"),
    (["top", "--reason", "NO_SUCH_REASON", "--once"], USAGE, "NO_SUCH_REASON"),
    (["top", "--promisc", "--once"], USAGE, "--promisc"),
    (["top", "--count", "-1"], USAGE, "--count"),
    (["top", "--sort", "bogus"], USAGE, "--sort"),
    (["watch", "--proto", "bogus"], USAGE, "bogus"),
    (["watch", "--host", "not-an-address"], USAGE, "not-an-address"),
    (["watch", "--port", "70000"], USAGE, "70000"),
    (["watch", "--mac", "zz:zz"], USAGE, "zz:zz"),
    (["watch", "--snaplen", "-5"], USAGE, "--snaplen"),
    (["watch", "--budget", "-1"], USAGE, "--budget"),
    (["watch", "--pcap", "/nonexistent/d/x.pcapng"], USAGE, "cannot write /nonexistent/d/x.pcapng"),
    (["watch", "--reason", "NO_SUCH_REASON"], USAGE, "NO_SUCH_REASON"),
    (["watch", "--iface", "nosuchif0"], NOT_FOUND, "nosuchif0"),
    (["watch", "--duration", "0"], USAGE, "--duration"),
    (["lab", "up", "--scenario", "bogus"], USAGE, "bogus"),
    (["lab", "traffic", "--count", "0"], USAGE, "--count"),
    (["lab", "traffic", "--kind", "bogus"], USAGE, "bogus"),
    (["lab", "traffic", "--count", "1"], NOT_FOUND, "the lab is not up"),
    (["lab", "flood", "--seconds", "1"], NOT_FOUND, "the lab is not up"),
    (["nosuchcommand"], USAGE, "nosuchcommand"),
]


def assert_clean_error(r, code, words):
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2, r.stderr
    assert lines[0].startswith("error: ") and words in lines[0], r.stderr
    assert lines[1].startswith("hint: ") and len(lines[1]) > len("hint: "), r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def host_state():
    """What a failed command must not change: netdrop's BPF programs, the lab's namespaces (the only ones netdrop
    ever creates), every promiscuity count. Other test runs sharing the host (NETDROP_SHARED_HOST) load programs of
    their own, so the program check is theirs to make then."""
    spaces = L.namespaces()
    promisc = {}
    for ns in [None] + [n for n in L.namespaces()]:
        cmd = ["ip", "-j", "-d", "link", "show"] if ns is None else ["ip", "-n", ns, "-j", "-d", "link", "show"]
        for link in json.loads(subprocess.run(cmd, capture_output=True, text=True).stdout or "[]"):
            promisc[(ns, link["ifname"])] = link.get("promiscuity")
    return (set() if os.environ.get("NETDROP_SHARED_HOST") else kfree_progs()), spaces, promisc


@pytest.fixture(scope="module")
def down():
    L.down()
    yield


@pytest.mark.parametrize("args,code,words", BAD_INPUT, ids=[" ".join(a) for a, _, _ in BAD_INPUT])
def test_bad_input(down, args, code, words):
    before = host_state()
    r = subprocess.run(NETDROP + args, capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, NO_COLOR="1"), stdin=subprocess.DEVNULL)
    assert_clean_error(r, code, words)
    progs, spaces, promisc = host_state()
    assert not (progs - before[0]) and spaces == before[1] and promisc == before[2]


UNPRIVILEGED = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]
NO_BPF_CAPS = ["setpriv", "--bounding-set=-sys_admin,-bpf,-perfmon", "--inh-caps=-all"]
ENVIRONMENTS = [
    (UNPRIVILEGED, ["diagnose", "--duration", "1"], PERM, "needs root"),
    (UNPRIVILEGED, ["top", "--once"], PERM, "needs root"),
    (UNPRIVILEGED, ["watch", "--count", "1"], PERM, "needs root"),
    (UNPRIVILEGED, ["check"], PERM, "root"),
    (UNPRIVILEGED, ["lab", "up"], PERM, "needs root"),
    (NO_BPF_CAPS, ["diagnose", "--duration", "1"], PERM, "CAP_SYS_ADMIN"),
    (NO_BPF_CAPS, ["top", "--once"], PERM, "CAP_SYS_ADMIN"),
    (NO_BPF_CAPS, ["check"], PERM, "BPF capabilities"),
]


@pytest.mark.skipif(not shutil.which("setpriv"), reason="needs setpriv (util-linux)")
@pytest.mark.parametrize("wrapper,args,code,words", ENVIRONMENTS,
                         ids=[f"{'user' if w is UNPRIVILEGED else 'nocaps'}: {' '.join(a)}"
                              for w, a, _, _ in ENVIRONMENTS])
def test_hostile_environment(down, wrapper, args, code, words):
    before = host_state()
    with readable_copy() as (python, env):
        r = subprocess.run(wrapper + [python, "-m", "netdrop"] + args, capture_output=True, text=True, timeout=60,
                           env=dict(env, NO_COLOR="1"), cwd="/", stdin=subprocess.DEVNULL)
    assert_clean_error(r, code, words)
    progs, spaces, promisc = host_state()
    assert not (progs - before[0]) and spaces == before[1] and promisc == before[2]


def test_every_exit_code_is_documented():
    """docs/usage.md's table lists every exit code netdrop can end with; the code uses no other."""
    with open(os.path.join(ROOT, "docs", "usage.md")) as f:
        documented = {int(c) for c in re.findall(r"^\| (\d+) \|", f.read(), re.M)}
    used = set()
    for dirpath, _, files in os.walk(os.path.join(ROOT, "netdrop")):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(dirpath, name)) as f:
                    text = f.read()
                used |= {int(c) for c in re.findall(r"^EXIT_\w+ = (\d+)", text, re.M)}
                used |= {int(c) for c in re.findall(r"^\s*(?:sys\.exit|os\._exit)\((\d+)", text, re.M)}
    assert used and used <= documented, used - documented


def test_plain_netdrop_prints_its_help():
    r = subprocess.run(NETDROP, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and r.stdout.startswith("Usage: netdrop") and "diagnose" in r.stdout and not r.stderr


def test_global_options_after_the_subcommand():
    r = subprocess.run(NETDROP + ["check", "--width", "120", "--debug"], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, NO_COLOR="1"))
    assert r.returncode == 0, r.stderr
    assert max(len(line) for line in r.stdout.splitlines()) > 80  # the width was taken (the table fills 120)


def test_a_closed_pipe_ends_watch_normally(lab, tmp_path):
    ready = tmp_path / "ready"
    cmd = (" ".join(NETDROP) + f" watch --json --ready-file {ready} | head -n 1; "
           f"echo \"${{PIPESTATUS[0]}}\" > {tmp_path}/rc")
    p = subprocess.Popen(["bash", "-c", cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert time.monotonic() < deadline and p.poll() is None, p.stderr.read() if p.poll() is not None else ""
        time.sleep(0.05)
    while p.poll() is None and time.monotonic() < deadline:  # head exits after one line; watch at its next write
        L.send(1, "wrong-mac")
        time.sleep(0.05)
    out, err = p.communicate(timeout=30)
    assert json.loads(out.splitlines()[0])["type"] == "drop"
    assert (tmp_path / "rc").read_text().strip() == "0" and "Traceback" not in err and "error" not in err, err


def test_top_json_stopped_before_its_first_interval_prints_a_snapshot(lab, background):
    bg = background("top", "--json", "--interval", "30")
    bg.wait_ready()
    L.send(3, "wrong-mac")
    bg.proc.send_signal(signal.SIGINT)
    rc, out, err = bg.finish(timeout=60)
    assert rc == 0, err
    snaps = [json.loads(line) for line in out.splitlines()]
    assert len(snaps) == 1 and any(d["reason"] == "OTHERHOST" for d in snaps[0]["drops"]), out
