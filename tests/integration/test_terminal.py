"""Real terminals (tmux): a dumb one, and a top stopped by job control and then terminated."""
import os
import shutil
import signal
import subprocess
import time

import pytest

from ..conftest import NETDROP, host_only
from .test_top import _wait_pane

pytestmark = [host_only, pytest.mark.skipif(not shutil.which("tmux"), reason="needs tmux")]


@pytest.fixture
def terminal(tmp_path):
    """A private tmux server (socket in tmp_path) with a bash; killed afterwards."""
    tm = ["tmux", "-S", str(tmp_path / "tmux.sock")]
    name = f"ndterm{os.getpid()}"
    subprocess.run([*tm, "new-session", "-d", "-s", name, "-x", "120", "-y", "40",
                    "env", "NO_COLOR=1", "bash", "--norc", "--noprofile"], check=True)

    def run(command):
        subprocess.run([*tm, "send-keys", "-t", name, command, "Enter"], check=True)

    try:
        yield (tm, name), run
    finally:
        subprocess.run([*tm, "kill-server"], capture_output=True)


def _wait_file(path, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text().strip():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return path.read_text().strip()


def test_top_on_a_dumb_terminal_refreshes_plain_snapshots(terminal, tmp_path):
    session, run = terminal
    cmd = " ".join(NETDROP) + f" top --interval 0.3 --ready-file {tmp_path}/ready"
    run(f"TERM=dumb {cmd}; echo rc=$?")
    _wait_file(tmp_path / "ready")
    screen = _wait_pane(session, lambda t: t.count("drops ") >= 2)  # one header per snapshot, printed plainly
    assert "sort: rate" in screen
    run("")  # stdin is not read in the plain view: Ctrl-C ends it
    subprocess.run([*session[0], "send-keys", "-t", session[1], "C-c"], check=True)
    _wait_pane(session, lambda t: "rc=0" in t)


def test_top_stopped_then_terminated_exits_cleanly(terminal, tmp_path):
    """SIGTTOU stops it (as job control would), SIGTERM arrives while stopped, SIGCONT lets it act: it must end with
    exit 0 and give the terminal back, not "internal error: (4, 'Interrupted system call')"."""
    session, run = terminal
    pidfile, rcfile = tmp_path / "pid", tmp_path / "rc"
    cmd = " ".join(NETDROP) + f" top --interval 0.3 --ready-file {tmp_path}/ready"
    # a non-interactive sh waits for top whatever job control does to it, and records its exit status
    script = tmp_path / "run.sh"
    script.write_text(f"sh -c 'echo $$ > {pidfile}; exec {cmd}' 2> {tmp_path}/err\necho $? > {rcfile}\n")
    run(f"sh {script}")
    _wait_file(tmp_path / "ready")
    pid = int(_wait_file(pidfile))
    os.kill(pid, signal.SIGTTOU)
    deadline = time.monotonic() + 10
    while _state(pid) != "T":
        assert time.monotonic() < deadline, "top did not stop"
        time.sleep(0.02)
    os.kill(pid, signal.SIGTERM)
    os.kill(pid, signal.SIGCONT)
    assert _wait_file(rcfile) == "0", (tmp_path / "err").read_text()
    assert "internal error" not in (tmp_path / "err").read_text()
    run(f"stty -a | grep -o ' -\\?icanon' > {tmp_path}/stty")
    assert _wait_file(tmp_path / "stty") == "icanon"  # the terminal's line mode is back


def _state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_ctrl_c_while_starting_prints_no_traceback():
    """SIGINT while Python is still importing netdrop (the first tenths of a second): a quiet exit 130."""
    # from 50 ms on: before that the interpreter itself is starting (site), where no program's code runs yet
    for delay in (0.05, 0.1, 0.15, 0.2, 0.3):
        p = subprocess.Popen(NETDROP + ["check"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)  # deliberately early: this is the race under test, not a synchronisation
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        assert "Traceback" not in err, (delay, err)
        assert p.returncode in (0, 130), (delay, p.returncode, err)
        if p.returncode == 130:
            assert err.startswith("error: interrupted"), err
