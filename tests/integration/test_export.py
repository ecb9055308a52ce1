"""`netdrop export` scraped by a real Prometheus (Debian's, unpacked by `make test` into build/prometheus): exact
counts and findings through Prometheus' own query API; the textfile; a taken port; a clean stop."""
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from netdrop import lab as L
from netdrop.export.metrics import exposed_names

from ..conftest import ROOT, host_only, kfree_progs, netdrop

PROMETHEUS = os.path.join(ROOT, "build", "prometheus", "usr", "bin", "prometheus")
N = 7

pytestmark = host_only  # the exporter's logic is the same on every kernel; the guests have no Prometheus


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


class Prometheus:
    def __init__(self, tmp_path, target: str):
        self.port = free_port()
        cfg = tmp_path / "prometheus.yml"
        cfg.write_text("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                       f"scrape_configs:\n  - job_name: netdrop\n    static_configs:\n      - targets: ['{target}']\n")
        self.proc = subprocess.Popen([PROMETHEUS, f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                      f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=error"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def query(self, expr: str):
        """The instant vector's values (a list of floats), [] when the expression has no result."""
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            _, body = get(url)
        except OSError:
            return None  # not listening yet
        data = json.loads(body)
        assert data["status"] == "success", data
        return [float(r["value"][1]) for r in data["data"]["result"]]

    def wait_for(self, expr: str, want, timeout: float = 30.0):
        """Polls until the query's values equal `want`; returns the last values either way."""
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.stderr.read()
            got = self.query(expr)
            if got == want:
                return got
            time.sleep(0.25)
        return got

    def stop(self):
        self.proc.terminate()
        self.proc.communicate(timeout=30)


@pytest.fixture
def prometheus(tmp_path):
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.skip(f"{PROMETHEUS} is missing: `make test` unpacks Debian's prometheus package there")
    started = []

    def start(target):
        p = Prometheus(tmp_path, target)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


def test_prometheus_sees_exactly_n_wrong_mac_drops_and_the_finding_come_and_go(lab, background, prometheus):
    before = kfree_progs()
    port = free_port()
    bg = background("export", "--listen", f"127.0.0.1:{port}", "--interval", "0.5", "--window", "3",
                    "--netns", L.RX_NS, "--iface", L.RX_IF)
    bg.wait_ready()
    prom = prometheus(f"127.0.0.1:{port}")
    assert prom.wait_for('up{job="netdrop"}', [1.0]) == [1.0]
    sel = f'netns="{L.RX_NS}",interface="{L.RX_IF}"'
    # nothing dropped yet: no series at all (a zero would be fine too, but the exporter has no key to show)
    assert prom.query(f"netdrop_otherhost_drops_total{{{sel}}}") == []

    L.send(N, "wrong-mac")
    assert prom.wait_for(f"netdrop_otherhost_drops_total{{{sel}}}", [float(N)]) == [float(N)]
    assert prom.wait_for(f'netdrop_finding{{cause="mac-mismatch",{sel}}}', [1.0]) == [1.0]
    labels = json.loads(get(f"http://127.0.0.1:{prom.port}/api/v1/query?" + urllib.parse.urlencode(
        {"query": f"netdrop_otherhost_drops_total{{{sel}}}"}))[1])["data"]["result"][0]["metric"]
    assert (labels["ip"], labels["seen_mac"], labels["expected_mac"]) == (L.SECONDARY_IP, L.WRONG_MAC, L.RX_MAC)
    time.sleep(2)  # more scrapes: still exactly N, nothing counted twice
    assert prom.query(f"netdrop_otherhost_drops_total{{{sel}}}") == [float(N)]
    assert prom.query(f'sum(netdrop_drops_total{{{sel},reason="OTHERHOST"}})') == [float(N)]

    # the fix: the sender's neighbour entry gets the receiver's real MAC; the datagrams now arrive
    subprocess.run(["ip", "-n", L.TX_NS, "neigh", "replace", L.SECONDARY_IP, "lladdr", L.RX_MAC, "dev", L.TX_IF,
                    "nud", "permanent"], check=True)
    L.send(N, "wrong-mac")
    assert prom.wait_for(f'netdrop_finding{{cause="mac-mismatch",{sel}}}', [0.0]) == [0.0]
    assert prom.query(f"netdrop_otherhost_drops_total{{{sel}}}") == [float(N)]

    _, text = get(f"http://127.0.0.1:{port}/metrics")
    missing = [n for n in exposed_names() if f"\n{n}" not in "\n" + text]
    assert not missing, missing
    assert "process_resident_memory_bytes" in text

    bg.proc.send_signal(signal.SIGTERM)
    rc, _, err = bg.finish()
    assert rc == 0, err
    assert kfree_progs() <= before, "the exporter's kfree_skb program is still loaded"


def test_textfile_is_replaced_atomically_and_removed_at_the_end(lab, background, tmp_path):
    from prometheus_client.parser import text_string_to_metric_families
    out = tmp_path / "tf" / "netdrop.prom"
    out.parent.mkdir()
    bg = background("export", "--textfile", out, "--interval", "0.5", "--netns", L.RX_NS)
    bg.wait_ready()
    L.send(N, "wrong-mac")
    deadline = time.monotonic() + 20
    families = {}
    while time.monotonic() < deadline:
        families = {f.name: f for f in text_string_to_metric_families(out.read_text())}
        drops = families.get("netdrop_otherhost_drops")
        if drops and sum(s.value for s in drops.samples if s.name.endswith("_total")) == N:
            break
        time.sleep(0.2)
    assert sum(s.value for s in families["netdrop_otherhost_drops"].samples if s.name.endswith("_total")) == N
    assert not any(name.startswith("process_") for name in families), "node_exporter has its own process_ metrics"
    assert oct(out.stat().st_mode & 0o777) == "0o644"
    bg.proc.send_signal(signal.SIGTERM)
    rc, _, err = bg.finish()
    assert rc == 0, err
    assert os.listdir(out.parent) == [], "the textfile (or a temporary file) was left behind"


def test_health_endpoint_and_a_taken_port(background):
    port = free_port()
    bg = background("export", "--listen", f"127.0.0.1:{port}", "--interval", "0.5")
    bg.wait_ready()
    assert get(f"http://127.0.0.1:{port}/healthz") == (200, "ok\n")
    with pytest.raises(urllib.error.HTTPError) as e:
        get(f"http://127.0.0.1:{port}/nothing")
    assert e.value.code == 404
    before = kfree_progs()
    second = netdrop("export", "--listen", f"127.0.0.1:{port}", "--duration", "1")
    assert second.returncode == 6
    assert second.stderr.splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: the port is taken",
        f"hint: another process listens there (`ss -ltnp 'sport = :{port}'`); choose another with --listen"]
    assert kfree_progs() == before, "a refused exporter attached a program"
    bg.proc.send_signal(signal.SIGTERM)
    assert bg.finish()[0] == 0
