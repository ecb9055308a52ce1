"""docker.io from the distribution: its namespaces live in /run/docker/netns (not listed by `ip netns`), the case that
broke before the registry. Runs when docker.io is installed and no docker daemon is running already: the test starts
its own dockerd and stops it, and puts back what the daemon changes on the host (docker0, DOCKER chains, sysctls).
CI does not install docker.io (it would stay on the machine); the bind-mount test in tests/integration is its
stand-in there."""
import json
import os
import re
import shlex
import subprocess
import time

import pytest

from netdrop import lab as L

from ..conftest import counter, diagnose_report
from .hoststate import HostState
from .test_podman import eth0, import_image, send_udp

DOCKER, DOCKERD = "/usr/bin/docker", "/usr/sbin/dockerd"
NAME = L.PREFIX + "dk"
IMAGE = f"{L.PREFIX}dbb:1"
BRIDGE = "docker0"


def _running():
    return subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True).returncode == 0


def docker(*args, check=True):
    return subprocess.run([DOCKER, *args], capture_output=True, text=True, check=check)


@pytest.fixture
def daemon(tmp_path):
    if not (os.path.exists(DOCKERD) and os.path.exists(DOCKER)):
        pytest.skip("docker.io is not installed (apt-get install docker.io to run this test)")
    if _running():
        pytest.skip("a docker daemon is already running: this test only uses one it starts itself")
    state = HostState.now()
    log = open(tmp_path / "dockerd.log", "w")
    proc = subprocess.Popen([DOCKERD], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while docker("info", check=False).returncode != 0:  # its API answers: ready (a state, not a delay)
            assert proc.poll() is None, (tmp_path / "dockerd.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "dockerd did not come up"
            time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        state.restore()
        assert not state.differences(), state.differences()


@pytest.fixture
def container(daemon):
    made = {}
    try:
        import_image(DOCKER, IMAGE)
        docker("run", "-d", "--name", NAME, IMAGE, "/bin/sleep", "3600")
        info = json.loads(docker("inspect", NAME).stdout)[0]
        made["ip"] = info["NetworkSettings"]["IPAddress"]
        yield {"id": info["Id"], "pid": info["State"]["Pid"], "ip": made["ip"],
               "mac": info["NetworkSettings"]["MacAddress"], "sandbox": info["NetworkSettings"]["SandboxKey"]}
    finally:
        if made.get("ip"):
            subprocess.run(["ip", "neigh", "del", made["ip"], "dev", BRIDGE], capture_output=True)
        docker("rm", "-f", NAME, check=False)
        docker("rmi", "-f", IMAGE, check=False)


def test_wrong_mac_in_a_docker_container(container, background):
    c = container
    assert c["sandbox"].startswith("/var/run/docker/netns/") or c["sandbox"].startswith("/run/docker/netns/")
    subprocess.run(["ip", "neigh", "replace", c["ip"], "lladdr", L.WRONG_MAC, "dev", BRIDGE, "nud", "permanent"],
                   check=True)
    report = diagnose_report(background, lambda: send_udp(c["ip"], 5), "--netns", NAME, duration="2")
    found = [f for f in report["findings"] if f["cause"] == "mac-mismatch"]
    assert len(found) == 1, found
    f = found[0]
    assert f["netns"] == f"{NAME} (docker {c['id'][:12]})" and f["netns_kind"] == "container"
    assert f["container"] == {"engine": "docker", "id": c["id"], "name": NAME}
    assert (f["interface"], f["expected_mac"], f["address_role"]) == ("eth0", c["mac"], "primary")
    assert f["count"] == 5 and f.get("counter_delta") == counter(5)
    assert "None" not in json.dumps(f)
    cmd = [x for x in re.findall(r"`([^`]+)`", f["fix"]) if "neigh replace" in x]
    assert cmd == [f"ip neigh replace {c['ip']} lladdr {c['mac']} dev {BRIDGE} nud permanent"]
    subprocess.run(shlex.split(cmd[0]), check=True)
    before = eth0(f["netns_id"])
    send_udp(c["ip"], 4)
    after = eth0(f["netns_id"])
    assert after.rx_packets - before.rx_packets >= 4
    if after.rx_otherhost_dropped is not None:
        assert after.rx_otherhost_dropped == before.rx_otherhost_dropped
