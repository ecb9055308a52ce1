"""top against the real kernel: exact counts under a flood, and the full-screen view driven through tmux."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from netdrop import lab as L
from netdrop.net.links import HostFacts

from ..conftest import NETDROP, kfree_progs, needs_fast_flood, needs_reasons


def otherhost():
    return HostFacts.collect(only=[L.RX_NS]).find_name(L.RX_IF, L.RX_NS)[0].rx_otherhost_dropped


@needs_fast_flood
def test_json_counts_are_exact_under_a_flood(lab, background):
    bg = background("top", "--json", "--count", "4", "--interval", "1")
    bg.wait_ready()
    c0 = otherhost()
    flood = subprocess.Popen([sys.executable, "-m", "netdrop", "lab", "flood", "--seconds", "1.5"],
                             stdout=subprocess.PIPE, text=True)
    lab.send(7, "closed-port")  # a second reason at the same time
    sent = flood.communicate()[0]
    assert flood.returncode == 0
    delta = otherhost() - c0
    rc, out, err = bg.finish()
    assert rc == 0, err
    snaps = [json.loads(line) for line in out.splitlines()]
    assert len(snaps) == 4
    last = {(d["reason"], d["interface"]): d for d in snaps[-1]["drops"] if d["netns"] == L.RX_NS}
    assert last[("OTHERHOST", L.RX_IF)]["count"] == delta
    assert delta / 1.5 >= 100_000, f"the flood was too slow to mean anything ({sent.strip()})"
    assert last[("NO_SOCKET", L.RX_IF)]["count"] == 7
    assert last[("OTHERHOST", L.RX_IF)]["seen_dst_mac"] == L.WRONG_MAC
    peak = max(d["rate"] for s in snaps for d in s["drops"] if d["reason"] == "OTHERHOST" and "rate" in d)
    assert peak >= 100_000


def _pane(session):
    tm, name = session
    return subprocess.run([*tm, "capture-pane", "-p", "-t", name], capture_output=True, text=True).stdout


def _wait_pane(session, predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = _pane(session)
        if predicate(text):
            return text
        time.sleep(0.05)  # polling the screen's state, not a guessed delay
    raise AssertionError("screen never showed what was expected:\n" + _pane(session))


@needs_reasons  # the view is checked with a NO_SOCKET row beside the OTHERHOST one
@pytest.mark.skipif(not (shutil.which("tmux") and shutil.which("bpftool")), reason="needs tmux and bpftool")
def test_full_screen_view_in_tmux(lab, tmp_path):
    # a private tmux server on a socket in tmp_path: nothing of it is left in /tmp/tmux-0 afterwards
    tm = ["tmux", "-S", str(tmp_path / "tmux.sock")]
    name = f"ndtop{os.getpid()}"
    session = (tm, name)
    ready = tmp_path / "ready"
    pidfile = tmp_path / "pid"
    before = kfree_progs()
    cmd = " ".join(NETDROP) + f" top --interval 0.3 --ready-file {ready}"
    subprocess.run([*tm, "new-session", "-d", "-s", name, "-x", "160", "-y", "40",
                    "env", "NO_COLOR=1", "bash", "--norc", "--noprofile"], check=True)
    try:
        subprocess.run([*tm, "send-keys", "-t", name, "echo shell-before-top", "Enter"], check=True)
        subprocess.run([*tm, "send-keys", "-t", name, f"sh -c 'echo $$ > {pidfile}; exec {cmd}'; echo rc=$?", "Enter"],
                       check=True)
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert time.monotonic() < deadline, _pane(session)
            time.sleep(0.05)
        pid = int(pidfile.read_text())
        ours = kfree_progs() - before
        assert ours
        lab.send(30, "wrong-mac")
        lab.send(5, "closed-port")
        screen = _wait_pane(session, lambda t: "OTHERHOST" in t and "NO_SOCKET" in t)
        assert "drops " in screen and "sort: rate" in screen and "shell-before-top" not in screen

        def order(text):
            return [r for line in text.splitlines() for r in ("OTHERHOST", "NO_SOCKET") if f" {r} " in line]

        subprocess.run([*tm, "send-keys", "-t", name, "s"], check=True)
        screen = _wait_pane(session, lambda t: "sort: count" in t)
        assert order(screen) == ["OTHERHOST", "NO_SOCKET"]  # 30 before 5
        subprocess.run([*tm, "send-keys", "-t", name, "s"], check=True)
        screen = _wait_pane(session, lambda t: "sort: reason" in t)
        assert order(screen) == ["NO_SOCKET", "OTHERHOST"]  # alphabetical
        subprocess.run([*tm, "send-keys", "-t", name, "q"], check=True)
        # the alternate screen is gone: the shell's lines are back and top's header is not
        screen = _wait_pane(session, lambda t: "shell-before-top" in t and "sort:" not in t and "rc=0" in t)
        deadline = time.monotonic() + 10
        while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not os.path.exists(f"/proc/{pid}"), "top did not exit on q"
        deadline = time.monotonic() + 10
        while ours & kfree_progs() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not (ours & kfree_progs()), "top left its probe behind"
        stty = subprocess.run([*tm, "send-keys", "-t", name, "stty -a | grep -o ' -\\?icanon' > "
                               f"{tmp_path}/stty", "Enter"], check=True)
        assert stty.returncode == 0
        deadline = time.monotonic() + 10
        while not (tmp_path / "stty").exists() or not (tmp_path / "stty").read_text().strip():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert (tmp_path / "stty").read_text().strip() == "icanon"  # the terminal's line mode is back
    finally:
        subprocess.run([*tm, "kill-server"], capture_output=True)


def test_renamed_then_deleted_interface_keeps_its_row(lab, background):
    """Names follow a rename (facts are re-read every few seconds); a deleted interface's row stays, as ifN."""
    bg = background("top", "--json", "--interval", "0.3", "--netns", L.RX_NS)
    bg.wait_ready()
    ifindex = HostFacts.collect(only=[L.RX_NS]).find_name(L.RX_IF, L.RX_NS)[0].ifindex
    lab.send(3, "wrong-mac")

    def until(name):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = bg.proc.stdout.readline()
            assert line, bg.proc.stderr.read()
            rows = [d for d in json.loads(line)["drops"] if d["reason"] == "OTHERHOST"]
            if rows and rows[0]["interface"] == name:
                return rows
        raise AssertionError(f"no OTHERHOST row on {name}")

    assert until(L.RX_IF)[0]["count"] == 3
    for args in (["down"], ["name", "vBrenamed"], ["up"]):
        subprocess.run(["ip", "-n", L.RX_NS, "link", "set", "dev", "vBrenamed" if args != ["down"] and
                        args != ["name", "vBrenamed"] else L.RX_IF, *args], check=True)
    assert until("vBrenamed")[0]["count"] == 3
    subprocess.run(["ip", "-n", L.RX_NS, "link", "del", "vBrenamed"], check=True)
    rows = until(f"if{ifindex}")
    assert len(rows) == 1 and rows[0]["count"] == 3 and rows[0]["seen_dst_mac"] == L.WRONG_MAC
    assert bg.proc.poll() is None, "top died when its interface went away"
    bg.proc.send_signal(signal.SIGINT)
    rc, _, err = bg.finish(timeout=30)
    assert rc == 0 and "Traceback" not in err, err
