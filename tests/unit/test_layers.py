"""The import structure: no cycle between netdrop's modules (module- or function-level imports alike), lower layers
never import upper ones, and only netdrop/bpf/session.py imports bcc."""
import ast
import os

from ..conftest import ROOT

PKG = os.path.join(ROOT, "netdrop")
# a layer may import its own and the layers listed for it (besides the leaf modules everyone may use)
LEAVES = {"netdrop.errors", "netdrop.model", "netdrop", "netdrop.signals", "netdrop.protocols"}
ALLOWED = {
    "netdrop.kernel": set(),
    "netdrop.net": {"netdrop.kernel"},
    "netdrop.bpf": {"netdrop.kernel"},
    "netdrop.diagnose": {"netdrop.kernel", "netdrop.net", "netdrop.bpf", "netdrop.render", "netdrop.enrich",
                         "netdrop.aggregate", "netdrop.classify", "netdrop.decode", "netdrop.collect",
                         "netdrop.runtime"},
    # the exporter reads through the runtime and diagnose's rules; nothing below imports it
    "netdrop.export": {"netdrop.kernel", "netdrop.net", "netdrop.bpf", "netdrop.diagnose", "netdrop.runtime",
                       "netdrop.aggregate"},
    "netdrop.render": {"netdrop.kernel"},
    "netdrop.lab": {"netdrop.net", "netdrop.decode"},
}


def modules():
    out = {}
    for d, _, files in os.walk(PKG):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(d, f)
                rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                name = rel[: -len(".__init__")] if rel.endswith(".__init__") else rel
                out[name] = path
    return out


def imports_of(name, path, known):
    pkg = name if path.endswith("__init__.py") else name.rsplit(".", 1)[0]
    with open(path) as f:
        tree = ast.parse(f.read())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = pkg
            for _ in range(node.level - 1):
                base = base.rsplit(".", 1)[0]
            mod = (base + "." + node.module if node.module else base) if node.level else node.module
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in known}
    return {m for m in out if m in known}, out


def graph():
    known = modules()
    return {n: imports_of(n, p, known)[0] - {n} for n, p in known.items()}, known


def layer(name):
    return next((lay for lay in ALLOWED if name == lay or name.startswith(lay + ".")), None)


def test_no_import_cycle():
    g, _ = graph()
    seen, stack, cycles = set(), [], []

    def visit(n):
        if n in stack:
            cycles.append(stack[stack.index(n):] + [n])
            return
        if n in seen:
            return
        seen.add(n)
        stack.append(n)
        for m in sorted(g[n]):
            if m != "netdrop" and not n.startswith(m + "."):  # a package's own __init__ is not a cycle edge
                visit(m)
        stack.pop()

    for n in sorted(g):
        visit(n)
    assert not cycles, cycles[:5]


def test_lower_layers_never_import_upper_ones():
    g, _ = graph()
    bad = []
    for n, deps in g.items():
        lay = layer(n)
        if lay is None:
            continue
        for m in deps:
            if m in LEAVES or layer(m) == lay or (layer(m) in ALLOWED[lay]) or \
                    any(m == a or m.startswith(a + ".") for a in ALLOWED[lay]):
                continue
            bad.append(f"{n} -> {m}")
    assert not bad, bad


def test_only_session_imports_bcc():
    known = modules()
    users = [n for n, p in known.items() if "bcc" in imports_of(n, p, known)[1]]
    assert users == ["netdrop.bpf.session"], users


def test_only_the_exporter_imports_prometheus_client():
    """Every other command runs without it (the VM guests and a minimal install may not have it)."""
    known = modules()
    users = sorted(n for n, p in known.items()
                   if any(m.split(".")[0] == "prometheus_client" for m in imports_of(n, p, known)[1]))
    assert users == ["netdrop.export.families", "netdrop.export.serve"], users
