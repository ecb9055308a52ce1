"""deploy/: the alert rules (promtool check and unit tests), the Grafana dashboard, the Kubernetes DaemonSet and the
systemd unit, checked against netdrop's own tables (the exporter's metrics, the causes and their drop reasons) and
against one capability set, the one docs/deploy.md documents and measures."""
import copy
import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from netdrop.diagnose.rules import RULES
from netdrop.export.metrics import OTHER, exposed_names

from ..conftest import ROOT

DEPLOY = os.path.join(ROOT, "deploy")
RULES_FILE = os.path.join(DEPLOY, "prometheus", "netdrop-rules.yml")
RULES_TESTS = os.path.join(DEPLOY, "prometheus", "netdrop-rules.test.yml")
DASHBOARD = os.path.join(DEPLOY, "grafana", "netdrop-dashboard.json")
DAEMONSET = os.path.join(DEPLOY, "kubernetes", "netdrop-daemonset.yaml")
UNIT = os.path.join(DEPLOY, "systemd", "netdrop-export.service")
DOC = os.path.join(ROOT, "docs", "deploy.md")
PROMTOOL = os.path.join(ROOT, "build", "prometheus", "usr", "bin", "promtool")  # scripts/install-deps.sh --prometheus

# The capabilities netdrop runs with outside `privileged` (Kubernetes spelling; systemd adds CAP_). docs/deploy.md
# has the measurement behind each: top and diagnose with exactly this set, and with each one removed.
CAPABILITIES = frozenset({"SYS_ADMIN", "SYS_PTRACE", "SYSLOG", "NET_ADMIN", "DAC_READ_SEARCH"})

# hostPath -> where the DaemonSet mounts it (read-only, every one); docs/deploy.md says why each
HOST_PATHS = {
    "/sys/kernel/btf": "/sys/kernel/btf",
    "/sys/kernel/tracing": "/sys/kernel/tracing",
    "/lib/modules": "/lib/modules",
    "/usr/src": "/usr/src",
    "/run/netns": "/run/netns",
    "/run/containerd/io.containerd.runtime.v2.task": "/run/containerd/io.containerd.runtime.v2.task",
    "/var/lib/containers/storage/overlay-containers": "/var/lib/containers/storage/overlay-containers",
    "/var/log/pods": "/var/log/pods",
}
# never mounted: container runtime sockets (a read-only mount does not stop connect()), every pod's secrets, debugfs
NEVER_MOUNTED = ("/", "/run", "/var/run", "/run/containerd", "/var/run/containerd", "/run/crio", "/var/run/crio",
                 "/var/run/docker.sock", "/run/docker.sock", "/var/lib/kubelet", "/var/lib/kubelet/pods",
                 "/sys/kernel/debug", "/proc", "/sys")

NEEDS_PROMTOOL = pytest.mark.skipif(not os.access(PROMTOOL, os.X_OK),
                                    reason="no build/prometheus/usr/bin/promtool: `make test` (or "
                                           "scripts/install-deps.sh --prometheus) unpacks Debian's prometheus there")

METRIC_NAME = re.compile(r"\bnetdrop_[A-Za-z0-9_]+")
SELECTOR = re.compile(r"\b([A-Za-z_:][A-Za-z0-9_:]*)\s*\{")  # a metric name with label matchers: name{...}
EXTRA_METRICS = {"up"}  # Prometheus' own


def load_rules():
    with open(RULES_FILE) as f:
        return [r for g in yaml.safe_load(f)["groups"] for r in g["rules"]]


def load_dashboard():
    with open(DASHBOARD) as f:
        return json.load(f)


def load_daemonset_docs():
    with open(DAEMONSET) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def daemonset():
    return next(d for d in load_daemonset_docs() if d["kind"] == "DaemonSet")


def dashboard_exprs():
    return [t["expr"] for p in load_dashboard()["panels"] for t in p.get("targets", [])]


def names_used(expr):
    """The metric names a PromQL expression uses: netdrop_* anywhere, and any name{matchers}."""
    return set(METRIC_NAME.findall(expr)) | {n for n in SELECTOR.findall(expr) if n not in ("by", "without", "on")}


def parse_unit(path):
    """A systemd unit as {section: {key: [values]}} (keys repeat; comments and blank lines skipped)."""
    out, section = {}, None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            m = re.fullmatch(r"\[([A-Za-z]+)\]", line)
            if m:
                section = out.setdefault(m.group(1), {})
                continue
            key, sep, value = line.partition("=")
            assert sep and section is not None and re.fullmatch(r"[A-Za-z]+", key), f"{path}:{n}: {line!r}"
            section.setdefault(key, []).append(value)
    return out


def documented_capabilities():
    """The capability table of docs/deploy.md: its rows' first cells, `CAP_X`."""
    with open(DOC) as f:
        return {m.group(1) for m in re.finditer(r"^\| `CAP_([A-Z_]+)` \|", f.read(), re.M)}


# --- Prometheus rules -------------------------------------------------------------------------------------------

@NEEDS_PROMTOOL
def test_promtool_checks_the_rules():
    r = subprocess.run([PROMTOOL, "check", "rules", RULES_FILE], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"SUCCESS: {len(load_rules())} rules found" in r.stdout


@NEEDS_PROMTOOL
def test_promtool_unit_tests_pass():
    r = subprocess.run([PROMTOOL, "test", "rules", os.path.basename(RULES_TESTS)], capture_output=True, text=True,
                       cwd=os.path.dirname(RULES_TESTS))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


@NEEDS_PROMTOOL
def test_promtool_fails_a_rule_that_does_not_do_what_its_tests_say(tmp_path):
    """The unit tests can fail: with IP_RPFILTER swapped for another reason, the rp_filter tests no longer pass."""
    with open(RULES_FILE) as f:
        text = f.read()
    assert 'reason="IP_RPFILTER"' in text
    (tmp_path / "netdrop-rules.yml").write_text(text.replace('reason="IP_RPFILTER"', 'reason="NO_SOCKET"'))
    shutil.copy(RULES_TESTS, tmp_path)
    r = subprocess.run([PROMTOOL, "test", "rules", os.path.basename(RULES_TESTS)], capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode != 0 and "NetdropRpFilterDrops" in r.stdout + r.stderr


def test_every_alert_has_a_firing_and_a_quiet_unit_test():
    with open(RULES_TESTS) as f:
        tests = yaml.safe_load(f)["tests"]
    fired, quiet = set(), set()
    for t in tests:
        for case in t.get("alert_rule_test", []):
            (fired if case.get("exp_alerts") else quiet).add(case["alertname"])
    alerts = {r["alert"] for r in load_rules()}
    assert len(alerts) >= 6
    assert alerts - fired == set(), "no test where it fires"
    assert alerts - quiet == set(), "no test where it stays quiet"
    assert (fired | quiet) - alerts == set(), "tests of alerts that do not exist"


def test_every_metric_the_rules_use_is_one_the_exporter_serves():
    served = set(exposed_names()) | EXTRA_METRICS
    used = set()
    for r in load_rules():
        # the annotations' words name metrics too ("missing from netdrop_drops_total"): those must exist as well
        used |= names_used(r["expr"]) | set(METRIC_NAME.findall(" ".join(r["annotations"].values())))
    assert used - served == set()
    # the rules cover every family an on-call engineer is paged for (so this check cannot pass on an empty file)
    assert {"netdrop_drops_total", "netdrop_otherhost_drops_total", "netdrop_finding", "netdrop_map_full_total",
            "netdrop_events_lost_total", "netdrop_build_info", "netdrop_last_update_timestamp_seconds"} <= used


def test_causes_and_reasons_in_the_rules_and_dashboard_are_netdrop_s():
    causes = {rule.cause for rule in RULES}
    reasons = {reason for rule in RULES for reason in rule.reasons}
    texts = [r["expr"] for r in load_rules()] + dashboard_exprs()
    used_causes = {c for t in texts for c in re.findall(r'cause="([^"]+)"', t)}
    used_reasons = {c for t in texts for c in re.findall(r'reason="([^"]+)"', t)}
    assert used_causes and used_causes <= causes
    assert used_reasons and used_reasons <= reasons


def test_alerts_name_the_node_and_the_diagnose_command():
    for r in load_rules():
        ann, name = r["annotations"], r["alert"]
        assert set(ann) >= {"summary", "description"}, name
        assert "$labels.instance" in ann["summary"] and "$labels.instance" in ann["description"], name
        assert "`netdrop diagnose" in ann["description"], name
        assert re.search(r"\bon (that|a) node\b", ann["description"], re.I), name
        assert r["labels"]["severity"] in ("info", "warning", "critical"), name
        if re.search(r"by \([^)]*\binterface\b", r["expr"]):  # per interface: the command filters on it
            assert "--iface {{ $labels.interface }} --netns '{{ $labels.netns }}'" in ann["description"], name
            assert f'eq $labels.interface "{OTHER}"' in ann["description"], name  # folded series: no filter


def test_lost_samples_page_less_than_inexact_counts():
    """Lost events are only sampled evidence (the counts stay exact); a full counts map makes the counts wrong."""
    rank = {"info": 0, "warning": 1, "critical": 2}
    by_metric = {m: r for r in load_rules() for m in ("netdrop_events_lost_total", "netdrop_map_full_total")
                 if m in r["expr"]}
    lost, full = by_metric["netdrop_events_lost_total"], by_metric["netdrop_map_full_total"]
    assert lost is not full
    assert rank[lost["labels"]["severity"]] < rank[full["labels"]["severity"]]
    assert re.search(r"counts? stays? exact|stays? exact", lost["annotations"]["description"])
    assert "incomplete" in full["annotations"]["summary"] and "missing from" in full["annotations"]["description"]


# --- Grafana dashboard ------------------------------------------------------------------------------------------

def test_dashboard_uses_a_prometheus_datasource_variable_and_an_instance_variable():
    d = load_dashboard()
    assert 36 <= d["schemaVersion"] <= 41
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert variables["instance"]["type"] == "query"
    assert variables["instance"]["datasource"]["uid"] == "${datasource}"
    assert "instance" in json.dumps(variables["instance"]["query"])


def test_every_panel_has_the_datasource_and_a_target():
    panels = load_dashboard()["panels"]
    assert len(panels) >= 6
    assert len({p["id"] for p in panels}) == len(panels)
    for p in panels:
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert p["targets"], p["title"]
        for t in p["targets"]:
            assert t["expr"].strip() and t.get("refId"), p["title"]
            assert t.get("datasource", p["datasource"])["uid"] == "${datasource}", p["title"]
            assert 'instance=~"$instance"' in t["expr"], p["title"]


def test_dashboard_has_the_panels_on_call_needs():
    exprs = {p["title"]: " ".join(t["expr"] for t in p["targets"]) for p in load_dashboard()["panels"]}
    joined = " ".join(exprs.values())
    assert re.search(r"sum by \(instance, reason\) \(rate\(netdrop_drops_total", joined)
    assert re.search(r"topk\(\d+, sum by \([^)]*interface[^)]*\) \(rate\(netdrop_drops_total", joined)
    assert re.search(r"netdrop_finding\{[^}]*\} == 1", joined)
    assert re.search(r"by \([^)]*seen_mac, expected_mac\)[^)]*netdrop_otherhost_drops_total", joined)
    assert "netdrop_events_lost_total" in joined and "netdrop_map_full_total" in joined
    assert "netdrop_hooks" in joined


def test_every_metric_the_dashboard_uses_is_one_the_exporter_serves():
    served = set(exposed_names()) | EXTRA_METRICS
    used = set().union(*(names_used(e) for e in dashboard_exprs()))
    assert used - served == set()
    assert len(used) >= 6


@NEEDS_PROMTOOL
def test_dashboard_queries_are_valid_promql(tmp_path):
    """Each expression, with Grafana's variables filled in, as a recording rule that promtool parses."""
    rules = []
    for i, expr in enumerate(dashboard_exprs()):
        e = expr.replace("$__rate_interval", "5m").replace("$__range", "1h").replace("$instance", ".*")
        assert "$" not in e, e
        rules.append({"record": f"dashboard:query_{i}", "expr": e})
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    r = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


# --- Kubernetes -------------------------------------------------------------------------------------------------

def test_daemonset_manifest_has_what_it_needs():
    docs = load_daemonset_docs()
    kinds = [d["kind"] for d in docs]
    assert {"Namespace", "ServiceAccount", "DaemonSet"} <= set(kinds)
    ns = next(d for d in docs if d["kind"] == "Namespace")["metadata"]["name"]
    assert all(d["metadata"].get("namespace") == ns for d in docs if d["kind"] != "Namespace")
    ds = daemonset()
    pod = ds["spec"]["template"]
    assert ds["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    # scraped: pod annotations, and a headless Service on the same port
    port = pod["metadata"]["annotations"]["prometheus.io/port"]
    svc = next(d for d in docs if d["kind"] == "Service")
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert str(svc["spec"]["ports"][0]["port"]) == port == "9932"


def test_daemonset_runs_in_the_host_namespaces_on_every_node():
    spec = daemonset()["spec"]["template"]["spec"]
    assert spec["hostNetwork"] is True and spec["hostPID"] is True
    assert {"operator": "Exists"} in spec["tolerations"]  # every taint
    assert spec["automountServiceAccountToken"] is False


def capability_problems(spec):
    """What is wrong with a pod spec's privileges: [] when only CAPABILITIES are added and nothing is privileged."""
    out = []
    if spec.get("securityContext", {}).get("privileged"):
        out.append("pod privileged")
    for c in spec["containers"] + spec.get("initContainers", []):
        sc = c.get("securityContext", {})
        caps = sc.get("capabilities", {})
        if sc.get("privileged") is not False:
            out.append(f"{c['name']}: privileged not false")
        if caps.get("drop") != ["ALL"]:
            out.append(f"{c['name']}: does not drop ALL")
        if sorted(caps.get("add", [])) != sorted(CAPABILITIES):
            out.append(f"{c['name']}: adds {caps.get('add')}")
        if sc.get("readOnlyRootFilesystem") is not True:
            out.append(f"{c['name']}: writable root file system")
        if sc.get("allowPrivilegeEscalation", True) is not True:  # the API server rejects false with SYS_ADMIN
            out.append(f"{c['name']}: allowPrivilegeEscalation false with SYS_ADMIN")
    return out


def mount_problems(spec):
    """What is wrong with a pod spec's mounts: [] when the host paths are exactly HOST_PATHS, each read-only, and
    the only writable mounts are the emptyDirs for the compile cache and /tmp."""
    out = []
    volumes = {v["name"]: v for v in spec["volumes"]}
    host = {}
    for c in spec["containers"]:
        for m in c["volumeMounts"]:
            v = volumes[m["name"]]
            if "hostPath" in v:
                if m.get("readOnly") is not True:
                    out.append(f"{m['name']}: not read-only")
                if m.get("mountPropagation", "None") not in ("None", "HostToContainer"):
                    out.append(f"{m['name']}: propagation {m['mountPropagation']}")
                host[v["hostPath"]["path"]] = m["mountPath"]
            elif "emptyDir" not in v or m["mountPath"] not in ("/var/cache/netdrop", "/tmp"):
                out.append(f"{m['name']}: writable mount at {m['mountPath']}")
    if host != HOST_PATHS:
        out.append(f"host paths {sorted(host.items())}")
    out += [f"{p} mounted" for p in set(NEVER_MOUNTED) & set(host)]
    declared = {v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
    out += [f"{p} declared, not mounted" for p in declared - set(host)]
    return out


def test_daemonset_capabilities_are_the_documented_set_and_nothing_privileged():
    assert capability_problems(daemonset()["spec"]["template"]["spec"]) == []
    # the comment at the top names each one with what it is for
    with open(DAEMONSET) as f:
        header = f.read().split("apiVersion:")[0]
    assert {c for c in CAPABILITIES if re.search(rf"^#\s+{c}\s", header, re.M)} == CAPABILITIES


def test_docs_capability_table_is_the_same_set():
    assert documented_capabilities() == CAPABILITIES


def test_daemonset_host_mounts_are_the_listed_ones_and_all_read_only():
    spec = daemonset()["spec"]["template"]["spec"]
    assert mount_problems(spec) == []
    # namespaces bind-mounted after the pod started must show up in it
    netns = next(m for m in spec["containers"][0]["volumeMounts"] if m["mountPath"] == "/run/netns")
    assert netns["mountPropagation"] == "HostToContainer"


def test_daemonset_probes_resources_and_placeholder_image():
    c = daemonset()["spec"]["template"]["spec"]["containers"][0]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert c[probe]["httpGet"]["path"] == "/healthz", probe
        assert c[probe]["httpGet"]["port"] in ("metrics", 9932), probe
    assert {"name": "metrics", "containerPort": 9932, "protocol": "TCP"} in c["ports"]
    assert c["args"][0] == "export" and c["args"][c["args"].index("--listen") + 1].endswith(":9932")
    assert {"cpu", "memory"} <= set(c["resources"]["requests"]) and "memory" in c["resources"]["limits"]
    assert "REPLACE" in c["image"]


@pytest.mark.parametrize("mutation, problem", [
    (lambda s: s["containers"][0]["volumeMounts"][0].update(readOnly=False), "not read-only"),
    (lambda s: s["containers"][0]["volumeMounts"].append({"name": "kubelet", "mountPath": "/k", "readOnly": True})
     or s["volumes"].append({"name": "kubelet", "hostPath": {"path": "/var/lib/kubelet/pods"}}), "kubelet/pods"),
    (lambda s: s["containers"][0]["securityContext"]["capabilities"]["add"].append("NET_RAW"), "NET_RAW"),
    (lambda s: s["containers"][0]["securityContext"].update(privileged=True), "privileged"),
    (lambda s: s["containers"][0]["securityContext"]["capabilities"].update(drop=[]), "drop ALL"),
], ids=["writable-hostpath", "kubelet-pods", "extra-cap", "privileged", "no-drop-all"])
def test_a_changed_daemonset_fails_the_checks(mutation, problem):
    """The checks look at what they claim to: each of these changes is reported."""
    spec = copy.deepcopy(daemonset()["spec"]["template"]["spec"])
    mutation(spec)
    found = capability_problems(spec) + mount_problems(spec)
    assert any(problem in p for p in found), found


# --- systemd ----------------------------------------------------------------------------------------------------

BREAKS_NETDROP = {  # docs/deploy.md: what each would take away
    "ProtectKernelTunables": "/proc/kallsyms hidden: drop locations become bare addresses",
    "ProtectKernelLogs": "removes CAP_SYSLOG",
    "ProtectKernelModules": "hides /usr/lib/modules: no headers for the first compile",
    "PrivateUsers": "capabilities confined to a user namespace load no BPF",
    "PrivateNetwork": "replaces the host's network namespace",
    "MemoryDenyWriteExecute": "bcc's LLVM maps its code sections executable",
    "ProcSubset": "hides /proc/sys and /proc/kallsyms",
    "DynamicUser": "netdrop runs as root",
    "User": "netdrop runs as root",
}


def unit_problems(unit):
    """What is wrong with the parsed unit: [] when it has the capability set, the hardening and a graceful stop."""
    out = []
    service = unit.get("Service", {})
    s = {k: v[-1] for k, v in service.items()}
    want = {f"CAP_{c}" for c in CAPABILITIES}
    for key in ("CapabilityBoundingSet", "AmbientCapabilities"):
        values = service.get(key, [])
        if len(values) != 1 or set(values[0].split()) != want:
            out.append(f"{key}={values}")
    if service.get("ExecStart") != ["/usr/local/bin/netdrop export --listen 127.0.0.1:9932"]:
        out.append(f"ExecStart={service.get('ExecStart')}")
    for key, value in (("ProtectSystem", "strict"), ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                       ("NoNewPrivileges", "yes"), ("Restart", "on-failure"), ("KillSignal", "SIGTERM"),
                       ("CacheDirectory", "netdrop")):  # /var/cache/netdrop: the compile cache's default
        if s.get(key) != value:
            out.append(f"{key}={s.get(key)}")
    if "TimeoutStopSec" not in s:
        out.append("no TimeoutStopSec")
    if not {"/proc/sys", "/sys"} <= set(s.get("ReadOnlyPaths", "").split()):
        out.append("/proc/sys and /sys not read-only")
    out += [f"{k}: {why}" for k, why in BREAKS_NETDROP.items() if k in s]
    if s.get("ProtectProc", "default") != "default":
        out.append("ProtectProc hides processes")
    if s.get("RestrictNamespaces", "net") != "net":
        out.append("RestrictNamespaces must allow net (setns)")
    if unit.get("Install", {}).get("WantedBy") != ["multi-user.target"]:
        out.append("not wanted by multi-user.target")
    return out


def test_unit_capabilities_hardening_and_stop():
    assert unit_problems(parse_unit(UNIT)) == []


@pytest.mark.parametrize("old, new, problem", [
    (" CAP_SYSLOG", "", "CapabilityBoundingSet"),
    ("AmbientCapabilities=CAP_SYS_ADMIN", "AmbientCapabilities=CAP_BPF CAP_SYS_ADMIN", "AmbientCapabilities"),
    ("ProtectSystem=strict", "ProtectSystem=strict\nProtectKernelTunables=yes", "kallsyms"),
    ("KillSignal=SIGTERM", "KillSignal=SIGKILL", "KillSignal"),
    ("RestrictNamespaces=net", "RestrictNamespaces=yes", "setns"),
], ids=["no-syslog", "extra-ambient", "protect-kernel-tunables", "sigkill", "no-namespaces"])
def test_a_changed_unit_fails_the_checks(tmp_path, old, new, problem):
    with open(UNIT) as f:
        text = f.read()
    assert old in text
    path = tmp_path / "changed.service"
    path.write_text(text.replace(old, new))
    found = unit_problems(parse_unit(str(path)))
    assert any(problem in p for p in found), found


def _can_unshare_mounts():
    if not shutil.which("unshare") or os.geteuid() != 0:
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze (package systemd)")
@pytest.mark.skipif(not _can_unshare_mounts(),
                    reason="needs root and a private mount namespace: systemd-analyze verify writes "
                           "/run/systemd/systemd-units-load and /tmp/systemd-* on the host, which this test hides "
                           "under tmpfs")
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: verify runs in a private mount namespace (unshare -m)")
def test_systemd_analyze_verify_accepts_the_unit():
    """systemd-analyze verify works without systemd as PID 1, but writes under /run/systemd and /tmp: it runs in a
    private mount namespace with tmpfs over /run and /tmp (the unit is written into that /tmp, wherever the
    checkout is), so the host keeps nothing of it. ExecStart's binary must exist for it: the copy runs /bin/true
    instead (the directives are what is checked). Any warning (an unknown key, a bad capability name) fails."""
    with open(UNIT) as f:
        text = f.read()
    assert "/usr/local/bin/netdrop " in text
    script = ("mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /tmp && cat > /tmp/netdrop-export.service && "
              "exec systemd-analyze verify /tmp/netdrop-export.service")

    def verify(unit_text):
        return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script], input=unit_text,
                              capture_output=True, text=True)

    r = verify(text.replace("/usr/local/bin/netdrop ", "/bin/true "))
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "" and r.stdout.strip() == ""
    # and it does catch what it should: a misspelt directive is reported
    r = verify(text.replace("/usr/local/bin/netdrop ", "/bin/true ").replace("ProtectHome=", "ProtectHomes="))
    assert "ProtectHomes" in r.stderr
