import contextlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETDROP = [sys.executable, "-m", "netdrop"]
# deploy/'s checks are kernel-independent and need promtool and PyYAML, which the VM guests' images do not carry
collect_ignore = ["unit/test_deploy.py"] if os.environ.get("NETDROP_VM_GUEST") == "1" else []


def is_root() -> bool:
    return os.geteuid() == 0


def _kernel_has_reasons() -> bool:
    if not is_root():
        return False
    from netdrop.kernel.features import KernelInfo
    return KernelInfo.load().has_reasons


def _kernel_has_otherhost_counter() -> bool:
    from netdrop.check import _otherhost_counter
    return _otherhost_counter().ok


# Kernel-dependent expectations, so that the same tests run in the kernel-matrix guests (tests/vm/): 5.10 has no drop
# reasons and no rx_otherhost_dropped; a TCG guest cannot push the ~100k drops/s the flood tests need.
HAS_REASONS = _kernel_has_reasons()
HAS_COUNTER = is_root() and _kernel_has_otherhost_counter()
needs_reasons = pytest.mark.skipif(not HAS_REASONS, reason="this kernel's kfree_skb has no drop reason (< 5.17)")
# Checks that do not depend on the kernel (bad input, terminals, the host's own sysctls) run on the host only: under
# TCG each of their dozens of netdrop start-ups costs seconds, and a guest proves nothing more about them.
host_only = pytest.mark.skipif(os.environ.get("NETDROP_VM_GUEST") == "1",
                               reason="kernel-independent: checked on the host, not in the emulated guests")
needs_fast_flood = pytest.mark.skipif(os.environ.get("NETDROP_VM_GUEST") == "1",
                                      reason="an emulated (TCG) guest cannot flood at 100k drops/s")


def kfree_progs():
    """Ids of the kfree_skb BPF programs loaded now (netdrop's are named after the tracepoint)."""
    if not shutil.which("bpftool"):
        pytest.skip("needs bpftool")
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True, check=True).stdout
    return {p["id"] for p in json.loads(out) if p.get("name") == "kfree_skb"}


def counter(n):
    """What a finding's counter_delta must be after n OTHERHOST drops: n, or None where the kernel has no counter."""
    return n if HAS_COUNTER else None


def pytest_collection_modifyitems(config, items):
    if is_root():
        return
    skip = pytest.mark.skip(reason="needs root (real BPF, network namespaces)")
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(skip)


def netdrop(*args, check=False, timeout=120, env=None, **kw):
    e = dict(os.environ, NO_COLOR="1")
    e.update(env or {})
    return subprocess.run(NETDROP + [str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                          check=check, env=e, **kw)


@contextlib.contextmanager
def readable_copy():
    """(python, env) that run this netdrop as any user: the checkout (often under /root, mode 0700) and its venv
    may be unreadable to others, so netdrop and the packages it imports are copied to a world-readable
    temporary directory, removed afterwards. Skips, saying why, when the interpreter itself is unreadable."""
    python = os.path.realpath(sys.executable)
    if not os.access(python, os.X_OK) or os.stat(python).st_mode & 0o005 != 0o005:
        pytest.skip(f"{python} is not usable by other users: no way to run netdrop unprivileged here")
    purelib = sysconfig.get_paths()["purelib"]
    skip = shutil.ignore_patterns("__pycache__", "pip", "pip-*", "setuptools", "setuptools-*", "_pytest", "pytest",
                                  "pytest-*", "*.pth", "__editable__*")
    tmp = tempfile.mkdtemp(prefix="netdrop-unprivileged-")
    try:
        os.chmod(tmp, 0o755)
        if os.path.isdir(purelib):  # a venv's site-packages (may sit under an unreadable checkout)
            shutil.copytree(purelib, os.path.join(tmp, "lib"), ignore=skip)
        shutil.copytree(os.path.join(ROOT, "netdrop"), os.path.join(tmp, "src", "netdrop"), ignore=skip)
        shutil.copytree(os.path.join(ROOT, "bpf"), os.path.join(tmp, "src", "bpf"))
        for d, dirs, files in os.walk(tmp):
            for name in dirs + files:
                os.chmod(os.path.join(d, name), 0o755 if name in dirs else 0o644)
        # then the rest of this interpreter's path (the distribution's dist-packages with bcc, a PYTHONPATH of
        # dependencies as in the VM guests): entries the user cannot read are skipped by Python itself
        rest = [p for p in sys.path if p and os.path.isdir(p) and os.path.realpath(p) != os.path.realpath(ROOT)]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(tmp, "src"), os.path.join(tmp, "lib")] + rest),
                   PYTHONDONTWRITEBYTECODE="1")
        yield python, env
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class Background:
    """A netdrop command running while the test makes traffic; waits on --ready-file, never on sleeps."""

    def __init__(self, tmp_path, *args, env=None):
        self.ready = str(tmp_path / f"ready-{time.monotonic_ns()}")
        e = dict(os.environ, NO_COLOR="1")
        e.update(env or {})
        self.proc = subprocess.Popen(NETDROP + [str(a) for a in args] + ["--ready-file", self.ready],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)

    def wait_ready(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(self.ready):
                return
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                raise AssertionError(f"netdrop exited before it was ready: {err}")
            time.sleep(0.02)
        self.proc.kill()
        raise AssertionError("netdrop did not attach in time")

    def finish(self, timeout=120):
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def diagnose_report(background, send, *args, duration="1.5"):
    """`diagnose --json` in the background; send() once its probes are attached; its report."""
    bg = background("diagnose", "--json", "--duration", duration, *args)
    bg.wait_ready()
    send()
    rc, out, err = bg.finish()
    assert rc == 0, err
    return json.loads(out)


@pytest.fixture
def background(tmp_path):
    started = []

    def start(*args, env=None):
        b = Background(tmp_path, *args, env=env)
        started.append(b)
        return b

    yield start
    for b in started:
        b.kill()


def _lab(scenario):
    from netdrop import lab as labmod
    labmod.up(scenario)
    try:
        yield labmod
    finally:
        labmod.down()
        assert not labmod.namespaces()


@pytest.fixture
def lab():
    """The wrong-MAC lab, always removed afterwards."""
    yield from _lab("wrong-mac")


@pytest.fixture
def bridge_lab():
    """The bridge scenario: br0 owns the addresses and filters foreign MACs unless promiscuous."""
    yield from _lab("bridge")


@pytest.fixture(scope="session", autouse=True)
def compile_cache(tmp_path_factory):
    """netdrop's compile cache in a directory of the test run's own (inherited by the netdrop processes tests
    start), so the suite never writes /var/cache/netdrop: the host is left as found."""
    from netdrop.bpf.cache import DEFAULT_DIR
    had_default = os.path.exists(DEFAULT_DIR)
    before = os.environ.get("NETDROP_CACHE_DIR")
    path = tmp_path_factory.mktemp("compile-cache")
    os.environ["NETDROP_CACHE_DIR"] = str(path)
    yield path
    if before is None:
        os.environ.pop("NETDROP_CACHE_DIR", None)
    else:
        os.environ["NETDROP_CACHE_DIR"] = before
    assert had_default or not os.path.exists(DEFAULT_DIR), f"a test wrote netdrop's real cache {DEFAULT_DIR}"


@pytest.fixture(scope="session", autouse=True)
def no_leftovers():
    """After the whole suite: no lab namespace and no netdrop BPF program may remain. Only namespaces that
    appeared during the run are the suite's: ones that existed before it (someone else's lab with the same prefix,
    e.g. a run that forgot NETDROP_LAB_PREFIX on a shared host) are never torn down."""
    from netdrop import lab as labmod
    before = set(labmod.namespaces()) if is_root() else set()
    yield
    if not is_root():
        return
    left = [ns for ns in labmod.namespaces() if ns not in before]
    for ns in left:
        labmod.ip("netns", "del", ns, check=False)
    assert not left, f"namespaces leaked: {left}"
    if shutil.which("bpftool") and not os.environ.get("NETDROP_SHARED_HOST"):
        out = subprocess.run(["bpftool", "prog", "show"], capture_output=True, text=True).stdout
        assert "kfree_skb" not in out, "a kfree_skb BPF program is still loaded"


@pytest.fixture
def spaces(tmp_path):
    """Namespaces outside /run/netns (held by a process, or by a bind mount only), removed after the test."""
    from .integration.nsfixtures import Spaces
    s = Spaces(tmp_path)
    try:
        yield s
    finally:
        s.close()
